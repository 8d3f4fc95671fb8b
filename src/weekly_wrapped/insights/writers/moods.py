"""The mood recap: an impression from genres, hours, skips and repeats.

Spotify no longer serves audio features, so the mood is read from what the stats
do know. It writes no numbers of its own; only names may carry digits.
"""

from __future__ import annotations

from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.writers.traits import Traits
from weekly_wrapped.insights.writers.voice import Voice

MOOD_WORDS = 60

# Most specific first: "dream pop" must win over "pop".
_GENRE_MOODS: tuple[tuple[str, str], ...] = (
    ("dream pop", "dreamy"), ("shoegaze", "hazy"), ("ambient", "calm"),
    ("classical", "contemplative"), ("lo-fi", "mellow"), ("jazz", "warm"), ("soul", "warm"),
    ("r&b", "smooth"), ("bossa", "breezy"), ("singer-songwriter", "intimate"),
    ("folk", "intimate"), ("techno", "driving"), ("house", "danceable"),
    ("drum and bass", "restless"), ("metal", "heavy"), ("punk", "loud"),
    ("hip hop", "confident"), ("rap", "confident"), ("trap", "swaggering"),
    ("synthwave", "nostalgic"), ("city pop", "nostalgic"), ("reggaeton", "sunny"),
    ("latin", "sunny"), ("afrobeats", "sunny"), ("country", "homespun"), ("k-pop", "bright"),
    ("j-pop", "bright"), ("indie", "wistful"), ("rock", "restless"), ("pop", "bright"),
    ("electronic", "electric"), ("blues", "soulful"), ("gospel", "uplifting"),
)  # fmt: skip


def mood(stats: ListeningStats, traits: Traits, voice: Voice) -> str:
    """At most 60 words, no numbers: what the week felt like."""
    parts = [
        _genre_mood(stats, voice),
        _hours_mood(stats, traits),
        _skips_mood(traits),
        _repeat_mood(stats, traits),
    ]
    if not any(parts):
        parts = ["A mixed bag of a week, hard to pin down, and that is fine."]
    return fmt.fit_words(parts, MOOD_WORDS)


def genre_mood(genre: str) -> str | None:
    """The feeling a genre name suggests, if we know one."""
    name = genre.casefold()
    return next((feeling for key, feeling in _GENRE_MOODS if key in name), None)


def _genre_mood(stats: ListeningStats, voice: Voice) -> str | None:
    genres = [g.name for g in stats.top_genres[:2]]
    feelings = list(dict.fromkeys(f for f in map(genre_mood, genres) if f))
    if not genres:
        return None
    lead = fmt.join_names(genres)
    if not feelings:
        return f"Mostly {lead}."
    feeling = fmt.join_names(feelings)
    return voice.pick(
        "mood",
        (
            f"Mostly {lead}: {feeling}.",
            f"{_article(feeling)} {feeling} week, with {lead} out front.",
        ),
    )


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def _hours_mood(stats: ListeningStats, traits: Traits) -> str | None:
    if traits.night_owl:
        return (
            "Much of it happened in the small hours, which gives the week a nocturnal, inward feel."
        )
    hour = stats.peak_hour
    if hour is None:
        return None
    if hour < 5:
        return "Late nights crept in."
    if hour < 12:
        return "The mornings set the tone: an early, wide-awake energy."
    if hour < 18:
        return "Mostly a daytime soundtrack, music to get things done."
    return "Evenings did the heavy lifting: a wind-down mood."


def _skips_mood(traits: Traits) -> str | None:
    if traits.skipping == "restless":
        return "Plenty of skips: restless, searching for the right song."
    if traits.skipping == "patient":
        return "Very few skips: you let songs play out."
    return None


def _repeat_mood(stats: ListeningStats, traits: Traits) -> str | None:
    if not traits.on_repeat or stats.on_repeat is None:
        return None
    return f"And {stats.on_repeat.name} was clearly a comfort."
