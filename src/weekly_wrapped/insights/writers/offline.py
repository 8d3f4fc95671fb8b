"""The offline writer: deterministic, template-based, always available (DESIGN §7).

The stats choose what is said (a big or quiet week, an explorer or a loyal
listener, a night owl…); a `Voice` seeded by user and week chooses how. Every
number goes through `weekly_wrapped.insights.story`, so it is a stats value
after the documented rounding, and the same (user, week) always reads the same.
"""

from __future__ import annotations

from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats, Story, tied_at_top
from weekly_wrapped.insights.writers.highlights import highlights, podcast_highlight
from weekly_wrapped.insights.writers.moods import mood
from weekly_wrapped.insights.writers.picks import recommendations
from weekly_wrapped.insights.writers.traits import Traits, read_traits
from weekly_wrapped.insights.writers.voice import Voice

SUMMARY_WORDS = 120


class OfflineWriter:
    """Writes stories from templates; needs no key and never fails on odd stats."""

    name = "offline"
    model: str | None = None

    def write(self, stats: ListeningStats, history: History) -> Story:
        """The story of `stats`, recommending only from `history`."""
        voice = Voice(stats)
        if stats.plays == 0 and stats.podcasts.minutes == 0:
            return _silent_story(stats, history, voice)
        if stats.plays == 0:
            return _podcast_story(stats, history, voice)
        traits = read_traits(stats)
        return Story(
            headline=headline(stats, traits, voice),
            summary=summary(stats, traits, voice),
            mood=mood(stats, traits, voice),
            highlights=highlights(stats, voice),
            recommendations=recommendations(stats, history, voice),
            closing=closing(stats, traits, voice),
        )


_HEADLINES: dict[str, tuple[str, ...]] = {
    "loyal": ("All roads led to {artist}", "{artist}, on heavy rotation", "A very {artist} week"),
    "explorer": ("A week of new sounds", "Ears wide open", "Exploring far and wide"),
    "night_owl": ("Music for the small hours", "A night owl's week", "The after-hours edition"),
    "on_repeat": ("{track}, on repeat", "Stuck on {track}", "{track} would not let go"),
    "big": ("A big week of music", "Turned all the way up", "More music than usual"),
    "quiet": ("A quieter week", "Turned down low", "A lighter week of listening"),
    "weekend": ("Saved for the weekend", "A weekend soundtrack"),
    "every_day": ("Music every day", "Not a day without music"),
    "led": ("{artist} led the way", "Your week, led by {artist}", "{artist} up front"),
    "plain": ("Your week in music", "This week's listening"),
}


def _headline_key(stats: ListeningStats, traits: Traits) -> str:
    present = {
        "loyal": traits.listener == "loyal",
        "explorer": traits.listener == "explorer",
        "night_owl": traits.night_owl,
        "on_repeat": traits.on_repeat,
        "big": traits.volume == "big",
        "quiet": traits.volume == "quiet",
        "weekend": traits.weekend,
        "every_day": traits.every_day,
        "led": bool(stats.top_artists),
    }
    return next((key for key, holds in present.items() if holds), "plain")


def headline(stats: ListeningStats, traits: Traits, voice: Voice) -> str:
    """A few words for the week's most telling trait."""
    key = _headline_key(stats, traits)
    artist = fmt.join_names([a.name for a in tied_at_top(stats.top_artists, "minutes")])
    track = stats.on_repeat.name if stats.on_repeat else ""
    return voice.pick("headline", _HEADLINES[key]).format(artist=artist, track=track)


def summary(stats: ListeningStats, traits: Traits, voice: Voice) -> str:
    """At most 120 words: volume first, then what kind of week it was."""
    return fmt.fit_words(
        [
            _volume_sentence(stats, voice),
            _coverage_sentence(stats),
            _comparison_sentence(stats, traits),
            _artists_sentence(stats, traits, voice),
            _track_sentence(stats, voice),
            _habits_sentence(stats, traits),
            _podcast_sentence(stats),
        ],
        SUMMARY_WORDS,
    )


def _volume_sentence(stats: ListeningStats, voice: Voice) -> str:
    total = fmt.in_minutes(stats.minutes_listened)
    streams = fmt.counted(stats.streams, "stream")
    skips = fmt.counted(stats.skips, "skip")
    options = [
        f"You listened to {total} of music this week, across {streams}.",
        f"This week came to {total} of music: {streams} and {skips}.",
    ]
    if stats.minutes_listened >= 120:
        options.append(
            f"You played {total} of music this week, about {fmt.hours(stats.minutes_listened)}, over {streams}."
        )
    return voice.pick("volume", options)


def _coverage_sentence(stats: ListeningStats) -> str | None:
    if stats.coverage.complete:
        return None
    return "Some plays may be missing this week, so the real totals could be higher."


_AGAINST_RECENT = {
    "big": "a big week by your recent standards",
    "quiet": "quieter than your recent weeks",
    "steady": "right in line with your recent weeks",
}


def _comparison_sentence(stats: ListeningStats, traits: Traits) -> str | None:
    recent = _AGAINST_RECENT.get(traits.volume)
    change = _change_from_last_week(stats)
    if change is None:
        return f"That is {recent}." if recent else None
    if recent is None:
        return f"That is {change}."
    # "More than last week, but quieter than usual" must not read as a contradiction.
    delta = stats.vs_last_week.minutes if stats.vs_last_week else 0.0
    against = (delta > 0 and traits.volume == "quiet") or (delta < 0 and traits.volume == "big")
    joiner = ", but still " if against else ", "
    return f"That is {change}{joiner}{recent}."


def _change_from_last_week(stats: ListeningStats) -> str | None:
    if stats.vs_last_week is None:
        return None
    delta = stats.vs_last_week.minutes
    if fmt.minutes(delta) == "0":
        return "about the same as last week"
    direction = "more" if delta > 0 else "less"
    return f"{fmt.in_minutes(delta)} {direction} than last week"


def _artists_sentence(stats: ListeningStats, traits: Traits, voice: Voice) -> str | None:
    if not stats.top_artists:
        return None
    top = stats.top_artists[0]
    tied = tied_at_top(stats.top_artists, "minutes")
    if len(tied) > 1:
        names = fmt.join_names([a.name for a in tied])
        return f"{names} tied at the top of your artists, with {fmt.in_minutes(top.minutes)} each."
    if traits.listener == "loyal":
        share = fmt.percent(stats.top_artist_share)
        return voice.pick(
            "loyal",
            (
                f"{top.name} took {share} of your listening time, {fmt.in_minutes(top.minutes)} in all.",
                f"{share} of your minutes went to {top.name}: loyalty, in numbers.",
            ),
        )
    if traits.listener == "explorer":
        return _explorer_sentence(stats, voice)
    if len(stats.top_artists) > 1:
        runner_up = stats.top_artists[1].name
        return (
            f"{top.name} led your artists with {fmt.in_minutes(top.minutes)}, ahead of {runner_up}."
        )
    return f"{top.name} led your artists with {fmt.in_minutes(top.minutes)}."


def _explorer_sentence(stats: ListeningStats, voice: Voice) -> str:
    artists = fmt.counted(stats.distinct_artists, "artist")
    found = [a.name for a in stats.new_artists[:2]]
    if not found:
        return f"You spread your time across {artists}, with no single favourite."
    newcomers = fmt.join_names(found)
    if stats.new_artists_total == 1:
        return f"You spread your time across {artists}, and {newcomers} was new to you."
    if stats.new_artists_total >= len(found):
        new = fmt.counted(stats.new_artists_total, "new artist")
        return voice.pick(
            "explorer",
            (
                f"You spread your time across {artists}, {new} among them, like {newcomers}.",
                f"{artists} shared your week, and {new} joined in, led by {newcomers}.",
            ),
        )
    were = "were" if len(found) > 1 else "was"
    return f"You spread your time across {artists}, and {newcomers} {were} new to you."


def _track_sentence(stats: ListeningStats, voice: Voice) -> str | None:
    if not stats.top_tracks:
        return None
    top = stats.top_tracks[0]
    by = f" by {top.artist}" if top.artist else ""
    streams = fmt.counted(top.streams, "stream")
    tied = tied_at_top(stats.top_tracks, "streams")
    if len(tied) > 1:
        names = fmt.join_names([f"{t.name} by {t.artist}" if t.artist else t.name for t in tied])
        return f"{names} tied as your most-streamed tracks, with {streams} each."
    return voice.pick(
        "track",
        (
            f"Your most-streamed track was {top.name}{by}, with {streams}.",
            f"{top.name}{by} topped your tracks at {streams}.",
        ),
    )


def _habits_sentence(stats: ListeningStats, traits: Traits) -> str | None:
    if traits.night_owl:
        return f"{fmt.percent(stats.late_night_share)} of your minutes came in the small hours of the night."
    if traits.weekend:
        return f"{fmt.percent(stats.weekend_share)} of your listening happened on the weekend."
    if stats.peak_hour is None or stats.busiest_day is None:
        return None
    return (
        f"You listened most around {fmt.clock(stats.peak_hour)}, "
        f"and {fmt.day_name(stats.busiest_day)} was your busiest day."
    )


def _podcast_sentence(stats: ListeningStats) -> str | None:
    if stats.podcasts.minutes <= 0:
        return None
    shows = stats.podcasts.top_shows
    mostly = f", mostly {shows[0].name}" if shows else ""
    return f"You also spent {fmt.in_minutes(stats.podcasts.minutes)} with podcasts{mostly}."


_CLOSINGS: dict[str, tuple[str, ...]] = {
    "night_owl": (
        "Get some sleep; the songs will still be here tomorrow.",
        "Sleep well, night owl.",
    ),
    "explorer": ("Keep following your ears.", "Who will you find next week?"),
    "loyal": ("Some things are worth playing again.", "Same time next week, same favourite?"),
    "quiet": ("Whenever you are ready, the music is waiting.", "Quiet weeks count too."),
    "big": ("What a week. See you next Monday.", "Hard to top, but feel free to try."),
    "plain": ("See you next week.", "Until next week: keep listening.", "Same time next week?"),
}


def closing(stats: ListeningStats, traits: Traits, voice: Voice) -> str:
    """A last line in the week's own key."""
    if traits.night_owl:
        key = "night_owl"
    elif traits.listener != "balanced":
        key = traits.listener
    elif traits.volume in ("big", "quiet"):
        key = traits.volume
    else:
        key = "plain"
    return voice.pick("closing", _CLOSINGS[key])


def _silent_story(stats: ListeningStats, history: History, voice: Voice) -> Story:
    missing = _coverage_sentence(stats)
    return Story(
        headline=voice.pick("headline", ("No listening this week", "A silent week")),
        summary=fmt.fit_words(
            [
                "There is no music in your history for this week, so there is nothing to count.",
                missing,
                "That is fine: some weeks are quiet. If you did listen, your plays may not "
                "have arrived yet; connect Spotify or import your data and they will show up.",
            ],
            SUMMARY_WORDS,
        ),
        mood="Quiet and restful. Silence is part of music too.",
        highlights=[],
        recommendations=recommendations(stats, history, voice),
        closing=voice.pick(
            "closing", ("See you next week.", "The music will be here when you are.")
        ),
    )


def _podcast_story(stats: ListeningStats, history: History, voice: Voice) -> Story:
    shows = stats.podcasts.top_shows
    mostly = f", mostly {shows[0].name}" if shows else ""
    return Story(
        headline=voice.pick("headline", ("A week of podcasts", "Talk over tunes")),
        summary=fmt.fit_words(
            [
                f"No music this week, but you spent {fmt.in_minutes(stats.podcasts.minutes)} "
                f"with podcasts{mostly}.",
                _coverage_sentence(stats),
            ],
            SUMMARY_WORDS,
        ),
        mood="A week for voices and ideas rather than songs.",
        highlights=[h for h in [podcast_highlight(stats)] if h],
        recommendations=recommendations(stats, history, voice),
        closing=voice.pick("closing", ("See you next week.", "Maybe some music next week?")),
    )
