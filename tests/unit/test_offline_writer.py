"""The offline writer over hundreds of generated weeks: deterministic, bounded, grounded.

The number extractor here is written independently of `insights.story`: it reads
numbers the way a reader (or the grounding check) would, and each one must be a
value of the stats after rounding.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from weekly_wrapped.config import load_settings
from weekly_wrapped.insights.history import History, PastTrack
from weekly_wrapped.insights.models import (
    Coverage,
    Entry,
    Gap,
    ListeningStats,
    OnRepeat,
    Podcasts,
    Sessions,
    Story,
    WeekDelta,
)
from weekly_wrapped.insights.writers import OfflineWriter, writer_for
from weekly_wrapped.insights.writers.traits import read_traits

WEEK = date(2026, 11, 16)
SHAPES = (
    "zero", "podcasts_only", "tiny", "plain", "loyal", "explorer", "night_owl", "weekend",
    "huge", "all_skips", "first_week",
)  # fmt: skip
WORDS = (
    "Velvet", "Harbour", "Lights", "Neon", "Tide", "Orchard", "Signal", "Ghost", "River",
    "Zoë", "Mañana", "青い灯台", "Ólafur", "Static", "Comet", "Letters", "Salt", "Ærø",
)  # fmt: skip
NUMBERED_NAMES = ("22", "Symphony No. 9", "1999", "Room 101", "4 Ever", "99 Luftballons",
                  "Track 7", "2.5 Stars", "50%")  # fmt: skip
GENRES = ("dream pop", "techno", "jazz", "k-pop", "lo-fi beats", "90s hip hop", "folk",
          "modern classical", "shoegaze", "zydeco")  # fmt: skip


# --- building varied weeks --------------------------------------------------------------


def _name(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return rng.choice(NUMBERED_NAMES)
    return " ".join(rng.sample(WORDS, rng.randint(1, 3)))


def _minutes(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 1)


def _entries(rng: random.Random, count: int, *, artist: bool, scale: float) -> list[Entry]:
    entries = []
    for rank in range(count):
        streams = max(1, int(scale / (rank + 1)))
        entries.append(
            Entry(
                name=_name(rng),
                artist=_name(rng) if artist else None,
                streams=streams,
                minutes=_minutes(rng, streams * 2, streams * 4),
            )
        )
    return entries


def _spread(rng: random.Random, total: float, slots: int, active: int) -> list[float]:
    """`total` minutes over `slots`, only `active` of them non-zero, summing exactly."""
    chosen = rng.sample(range(slots), active) if active else []
    tenths = [0] * slots
    remaining = round(total * 10)
    for i, slot in enumerate(chosen):
        share = remaining if i == len(chosen) - 1 else rng.randint(0, remaining)
        tenths[slot] += share
        remaining -= share
    return [t / 10 for t in tenths]


@dataclass
class Shape:
    minutes: float
    plays: int
    skips: int
    top_share: float
    diversity: float
    late_night: float
    weekend: float
    days: int
    new_artists: int


def _shape(name: str, rng: random.Random) -> Shape:
    plays = rng.randint(20, 400)
    base = Shape(
        minutes=_minutes(rng, 60, 1500), plays=plays, skips=rng.randint(0, plays // 3),
        top_share=round(rng.uniform(0.1, 0.3), 3), diversity=round(rng.uniform(0.4, 0.89), 3),
        late_night=round(rng.uniform(0, 0.15), 3), weekend=round(rng.uniform(0.1, 0.45), 3),
        days=rng.randint(2, 7), new_artists=rng.randint(0, 2),
    )  # fmt: skip
    tweaks: dict[str, dict[str, Any]] = {
        "zero": {"minutes": 0.0, "plays": 0, "skips": 0, "days": 0, "new_artists": 0},
        "podcasts_only": {"minutes": 0.0, "plays": 0, "skips": 0, "days": 0, "new_artists": 0},
        "tiny": {"minutes": _minutes(rng, 0.1, 9), "plays": 2, "skips": 1, "days": 1},
        "loyal": {"top_share": round(rng.uniform(0.4, 0.9), 3)},
        "explorer": {"diversity": round(rng.uniform(0.8, 1), 3), "new_artists": rng.randint(3, 40)},
        "night_owl": {"late_night": round(rng.uniform(0.2, 0.8), 3)},
        "weekend": {"weekend": round(rng.uniform(0.5, 1), 3)},
        "huge": {"minutes": _minutes(rng, 3000, 9000), "plays": 2500, "skips": 900, "days": 7},
        "all_skips": {"plays": 30, "skips": 30},
    }
    for field, value in tweaks.get(name, {}).items():
        setattr(base, field, value)
    return base


def build_stats(
    rng: random.Random, user_id: int, week_start: date, shape_name: str
) -> ListeningStats:
    """A plausible week of the given shape; every list and number varies with `rng`."""
    shape = _shape(shape_name, rng)
    listened = shape.plays > 0
    streams = shape.plays - shape.skips
    tracks = _entries(rng, min(5, streams), artist=True, scale=max(streams, 1) / 3)
    artists = _entries(rng, 5 if listened else 0, artist=False, scale=max(streams, 1) / 2)
    daily = _spread(rng, shape.minutes, 7, shape.days)
    heat = _spread(rng, shape.minutes, 168, min(168, shape.days * 3))
    heatmap = [heat[d * 24 : (d + 1) * 24] for d in range(7)]
    peak = max(range(24), key=lambda h: sum(row[h] for row in heatmap)) if listened else None
    return ListeningStats(
        user_id=user_id, timezone="Europe/Berlin", period_start=week_start,
        period_end=week_start + timedelta(days=7), week=f"{week_start.isocalendar().year}-W"
        f"{week_start.isocalendar().week:02d}",
        plays=shape.plays, minutes_listened=shape.minutes,
        minutes_estimated_share=round(rng.choice([0, 0, rng.random()]), 3),
        streams=streams, skips=shape.skips, distinct_tracks=max(len(tracks), streams // 2),
        distinct_artists=rng.randint(len(artists), len(artists) * 8 + 1) if listened else 0,
        distinct_albums=rng.randint(0, 40) if listened else 0,
        top_tracks=tracks, top_artists=artists,
        top_albums=_entries(rng, 3 if listened else 0, artist=True, scale=10),
        top_genres=[
            Entry(name=g, streams=rng.randint(1, 50), minutes=_minutes(rng, 1, 300))
            for g in rng.sample(GENRES, rng.randint(0, 3) if listened else 0)
        ],
        daily_minutes=daily, heatmap=heatmap, peak_hour=peak,
        busiest_day=max(range(7), key=daily.__getitem__) if listened else None,
        sessions=Sessions(count=rng.randint(1, 30) if listened else 0,
                          longest_minutes=_minutes(rng, 0, min(shape.minutes, 400))),
        new_artists=_entries(rng, min(10, shape.new_artists), artist=False, scale=4),
        new_artists_total=shape.new_artists,
        new_tracks=_entries(rng, rng.randint(0, 3) if listened else 0, artist=True, scale=3),
        rediscoveries=_entries(rng, rng.randint(0, 2) if listened else 0, artist=False, scale=3),
        on_repeat=_on_repeat(rng, week_start) if streams > 0 else None,
        streak_days=rng.randint(0, 40) if listened else 0,
        vs_last_week=None if shape_name == "first_week" else WeekDelta(
            minutes=_minutes(rng, -800, 800), streams=rng.randint(-200, 200),
            distinct_artists=rng.randint(-30, 30)),
        trend_4w=None if shape_name == "first_week" else [
            _minutes(rng, 0, 2000) for _ in range(3)] + [shape.minutes],
        top_artist_share=shape.top_share if listened else 0.0,
        artist_diversity=shape.diversity if listened else 0.0,
        late_night_share=shape.late_night if listened else 0.0,
        weekend_share=shape.weekend if listened else 0.0,
        podcasts=_podcasts(rng, shape_name),
        coverage=_coverage(rng, week_start),
    )  # fmt: skip


def _on_repeat(rng: random.Random, week_start: date) -> OnRepeat:
    return OnRepeat(
        name=_name(rng),
        artist=_name(rng),
        plays=rng.randint(1, 14),
        day=week_start + timedelta(days=rng.randint(0, 6)),
    )


def _podcasts(rng: random.Random, shape_name: str) -> Podcasts:
    if shape_name == "zero" or (shape_name != "podcasts_only" and rng.random() < 0.6):
        return Podcasts(minutes=0.0, episodes=0, top_shows=[])
    shows = _entries(rng, rng.randint(0, 2), artist=False, scale=3)
    return Podcasts(minutes=_minutes(rng, 5, 600), episodes=rng.randint(1, 20), top_shows=shows)


def _coverage(rng: random.Random, week_start: date) -> Coverage:
    if rng.random() < 0.8:
        return Coverage(complete=True)
    start = datetime.combine(week_start, datetime.min.time(), UTC) + timedelta(hours=30)
    gap = Gap(start=start, end=start + timedelta(hours=5), reason="poll gap")
    return Coverage(complete=False, gaps=[gap])


def build_history(rng: random.Random, stats: ListeningStats) -> History:
    """Past tracks to recommend from, some by this week's top artists."""
    favourites = [
        PastTrack(
            track=_name(rng),
            artist=_name(rng),
            streams=rng.randint(3, 80),
            last_played=stats.period_start - timedelta(days=rng.randint(56, 900)),
            spotify_id=rng.choice([None, "4uLU6hMCjMI75M1A2tKUQC"]),
        )
        for _ in range(rng.randint(0, 5))
    ]
    more = [
        PastTrack(
            track=_name(rng),
            artist=artist.name,
            streams=rng.randint(1, 30),
            last_played=stats.period_start - timedelta(days=rng.randint(7, 300)),
        )
        for artist in stats.top_artists[: rng.randint(0, 3)]
    ]
    return History(favourites_gone_quiet=favourites, more_from_top_artists=more)


def generated_weeks(count: int, seed: int = 4) -> Iterator[tuple[ListeningStats, History]]:
    rng = random.Random(seed)
    for i in range(count):
        week = WEEK - timedelta(weeks=rng.randint(0, 200))
        stats = build_stats(
            rng, user_id=rng.randint(1, 50), week_start=week, shape_name=SHAPES[i % len(SHAPES)]
        )
        yield stats, build_history(rng, stats)


# --- reading numbers back out of the text -------------------------------------------------

_WORD_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "dozen": 12, "once": 1, "twice": 2, "thrice": 3, "half": 0.5,
    "double": 2, "triple": 3,
}  # fmt: skip
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("clock", re.compile(r"\b(midnight|noon)\b", re.I)),
    ("clock", re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b\.?", re.I)),
    ("clock", re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")),
    ("hours", re.compile(rf"({_NUM})\s*(?:hours?|hrs?|h)\b", re.I)),
    ("percent", re.compile(rf"({_NUM})\s*(?:%|percent\b|per cent\b)", re.I)),
    ("number", re.compile(_NUM)),
    ("word", re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.I)),
)


@dataclass(frozen=True)
class Mention:
    kind: str
    value: Decimal
    places: int
    text: str


def _clock_hour(match: re.Match[str]) -> int:
    word = match.group(1).lower()
    if word in ("midnight", "noon"):
        return 0 if word == "midnight" else 12
    hour = int(word)
    if match.lastindex == 3:
        hour = hour % 12 + (12 if match.group(3).lower() == "p" else 0)
    return hour


def _mention(kind: str, match: re.Match[str]) -> Mention:
    if kind == "clock":
        return Mention(kind, Decimal(_clock_hour(match)), 0, match.group(0))
    if kind == "word":
        return Mention(kind, Decimal(str(_WORD_NUMBERS[match.group(1).lower()])), 0, match.group(0))
    digits = (match.group(1) if match.groups() else match.group(0)).replace(",", "")
    places = len(digits.split(".")[1]) if "." in digits else 0
    return Mention(kind, Decimal(digits), places, match.group(0))


def mentions(text: str) -> list[Mention]:
    """Every number a reader would see in `text`, each read only once."""
    found = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append(_mention(kind, match))
        text = pattern.sub(" ", text)
    return found


def _numeric_leaves(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _numeric_leaves(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _numeric_leaves(inner, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, float(value)


def _names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("name", "artist") and isinstance(inner, str):
                yield inner
            else:
                yield from _names(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _names(inner)


def _is_minutes(path: str) -> bool:
    return "minutes" in path or path.startswith((".trend_4w", ".heatmap"))


def _is_share(path: str) -> bool:
    return path.endswith("_share") or path == ".artist_diversity"


def _close(shown: Decimal, places: int, value: float) -> bool:
    return abs(float(shown) - value) <= 0.5 * 10**-places + 1e-9


def grounded(mention: Mention, stats: ListeningStats) -> bool:
    """Whether a number in the text is a stats value after the documented rounding."""
    leaves = list(_numeric_leaves(stats.model_dump(mode="json")))
    if mention.kind == "clock":
        return stats.peak_hour is not None and int(mention.value) == stats.peak_hour
    if mention.kind == "hours":
        return any(
            _close(mention.value, mention.places, abs(v) / 60) for p, v in leaves if _is_minutes(p)
        )
    if mention.kind == "percent":
        return any(
            _close(mention.value, mention.places, v * 100) for p, v in leaves if _is_share(p)
        )
    return any(mention.value == Decimal(repr(abs(v))) for _, v in leaves)


def without_names(text: str, names: list[str]) -> str:
    """`text` with each name taken out where it stands as a whole, not inside a number."""
    for name in sorted(set(names), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.,]){re.escape(name)}(?!\w|[.,]\d)", " ", text)
    return text


def invented_numbers(story: Story, stats: ListeningStats) -> list[str]:
    """Numbers in the story's text that are not stats values, as the reader saw them."""
    names = list(_names(stats.model_dump(mode="json")))
    texts = [story.headline, story.summary, story.mood, *story.highlights, story.closing]
    texts = [without_names(t, names) for t in texts]
    texts += [without_names(r.why, [*names, r.track, r.artist]) for r in story.recommendations]
    return [m.text for t in texts for m in mentions(t) if not grounded(m, stats)]


# --- the properties --------------------------------------------------------------------

WEEKS = list(generated_weeks(330))


def test_the_generated_weeks_cover_every_shape_and_trait() -> None:
    shapes = {(s.plays > 0, s.podcasts.minutes > 0, s.coverage.complete) for s, _ in WEEKS}
    assert len(WEEKS) >= 200
    assert len(shapes) >= 6


def test_the_extractor_reads_every_way_a_number_can_be_written() -> None:
    text = "At 9 pm, 21:00 or midnight: 12 hours, 42%, 1,234.5 minutes, twice and 7."
    read = [(m.kind, str(m.value)) for m in mentions(text)]
    assert read == [
        ("clock", "0"), ("clock", "21"), ("clock", "21"), ("hours", "12"),
        ("percent", "42"), ("number", "1234.5"), ("number", "7"), ("word", "2"),
    ]  # fmt: skip


def test_the_extractor_catches_an_invented_number() -> None:
    stats, history = WEEKS[3]
    story = OfflineWriter().write(stats, history)
    doctored = story.model_copy(update={"closing": "You beat 98.7% of listeners, 12345 times."})
    assert invented_numbers(doctored, stats) == ["98.7%", "12345"]


@pytest.mark.parametrize("index", range(len(WEEKS)))
def test_every_number_in_the_story_is_a_stats_value(index: int) -> None:
    stats, history = WEEKS[index]
    story = OfflineWriter().write(stats, history)
    assert invented_numbers(story, stats) == [], story.model_dump_json(indent=2)


def test_stories_are_deterministic_for_a_user_and_week() -> None:
    for stats, history in WEEKS:
        first = OfflineWriter().write(stats, history)
        again = OfflineWriter().write(stats.model_copy(deep=True), history)
        assert first == again


def test_stories_are_never_empty_and_keep_their_limits() -> None:
    for stats, history in WEEKS:
        story = OfflineWriter().write(stats, history)
        for text in (story.headline, story.summary, story.mood, story.closing):
            assert text.strip()
        assert len(story.summary.split()) <= 120
        assert len(story.mood.split()) <= 60
        assert len(story.highlights) <= 3
        assert all(h.strip() for h in story.highlights)
        assert len(story.recommendations) <= 5


def test_recommendations_come_only_from_history_and_cite_a_reason() -> None:
    for stats, history in WEEKS:
        known = {
            (t.track, t.artist)
            for t in [*history.favourites_gone_quiet, *history.more_from_top_artists]
        }
        story = OfflineWriter().write(stats, history)
        picked = [(r.track, r.artist) for r in story.recommendations]
        assert set(picked) <= known
        assert len(picked) == len(set(picked))
        assert len(picked) == min(5, len(known))
        assert all(r.why.strip() for r in story.recommendations)


def test_only_picks_with_a_spotify_id_are_verified_and_linked() -> None:
    stats, _ = WEEKS[4]
    history = History(favourites_gone_quiet=[
        PastTrack(track="Undertow", artist="Nova Lane", streams=9, last_played=date(2026, 3, 2),
                  spotify_id="4uLU6hMCjMI75M1A2tKUQC"),
        PastTrack(track="Paper Kites", artist="Salt", streams=5, last_played=date(2025, 7, 9)),
    ])  # fmt: skip
    linked, unlinked = OfflineWriter().write(stats, history).recommendations
    assert linked.verified
    assert linked.spotify_url == "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"
    assert "March" in linked.why
    assert not unlinked.verified and unlinked.spotify_url is None
    assert "July last year" in unlinked.why


# --- the words follow the shape of the week ---------------------------------------------


def _week(shape: str, seed: int = 7) -> ListeningStats:
    return build_stats(random.Random(seed), user_id=3, week_start=WEEK, shape_name=shape)


def test_a_zero_play_week_gets_a_kind_story_not_an_error() -> None:
    stats = _week("zero")
    story = OfflineWriter().write(stats, History())
    assert "no listening" in story.headline.lower() or "silent" in story.headline.lower()
    assert "no music" in story.summary.lower()
    assert story.highlights == []
    assert story.recommendations == []
    assert story.closing


def test_a_zero_play_week_still_offers_old_favourites() -> None:
    favourite = PastTrack(track="Undertow", artist="Nova Lane", streams=9,
                          last_played=date(2026, 3, 2))  # fmt: skip
    story = OfflineWriter().write(_week("zero"), History(favourites_gone_quiet=[favourite]))
    assert [r.track for r in story.recommendations] == ["Undertow"]


def test_a_podcast_only_week_talks_about_the_podcasts() -> None:
    stats = _week("podcasts_only")
    story = OfflineWriter().write(stats, History())
    assert "podcast" in story.summary.lower()
    assert f"{stats.podcasts.minutes:g}" in story.summary.replace(",", "")


def _set(stats: ListeningStats, **fields: Any) -> ListeningStats:
    return stats.model_copy(update=fields)


def test_an_explorer_and_a_loyal_listener_read_differently() -> None:
    base = _week("plain")
    loyal = _set(base, top_artist_share=0.62, artist_diversity=0.3)
    explorer = _set(
        base,
        top_artist_share=0.12,
        artist_diversity=0.93,
        distinct_artists=48,
        new_artists=[Entry(name="Cass Quill", streams=4, minutes=14.2)],
        new_artists_total=1,
    )
    loyal_story = OfflineWriter().write(loyal, History())
    explorer_story = OfflineWriter().write(explorer, History())
    top = base.top_artists[0].name
    assert "62%" in loyal_story.summary and top in loyal_story.summary
    assert "48 artists" in explorer_story.summary and "Cass Quill" in explorer_story.summary
    assert loyal_story.headline != explorer_story.headline
    assert loyal_story.closing != explorer_story.closing


def test_a_usual_spread_of_artists_is_not_called_exploring() -> None:
    usual = _set(_week("plain"), top_artist_share=0.2, artist_diversity=0.86, distinct_artists=20,
                 new_artists_total=1)  # fmt: skip
    assert read_traits(usual).listener == "balanced"
    assert read_traits(_set(usual, new_artists_total=3)).listener == "explorer"
    assert read_traits(_set(usual, top_artist_share=0.36)).listener == "loyal"


def test_a_night_owl_is_told_so() -> None:
    owl = _set(_week("plain"), late_night_share=0.46, top_artist_share=0.2, artist_diversity=0.5)
    story = OfflineWriter().write(owl, History())
    assert "46%" in story.summary and "small hours of the night" in story.summary
    assert "small hours" in story.mood


def test_a_big_week_and_a_quiet_week_are_told_apart() -> None:
    base = _set(
        _week("plain"),
        top_artist_share=0.2,
        artist_diversity=0.5,
        late_night_share=0.0,
        weekend_share=0.3,
        minutes_listened=600.0,
    )
    big = OfflineWriter().write(_set(base, trend_4w=[300.0, 310.0, 290.0, 600.0]), History())
    quiet = OfflineWriter().write(_set(base, trend_4w=[1200.0, 1000.0, 1100.0, 600.0]), History())
    assert "big week" in big.summary
    assert "quieter than your recent weeks" in quiet.summary


def test_a_week_with_missing_plays_says_so() -> None:
    stats = _set(_week("plain"), coverage=_coverage(random.Random(0), WEEK).model_copy(
        update={"complete": False}))  # fmt: skip
    assert "may be missing" in OfflineWriter().write(stats, History()).summary


def test_the_same_shape_is_phrased_differently_across_weeks_and_users() -> None:
    base = _week("plain")
    headlines = {
        OfflineWriter().write(_set(base, user_id=u, week=f"2026-W{w:02d}"), History()).summary
        for u in range(1, 6) for w in range(1, 11)
    }  # fmt: skip
    assert len(headlines) > 1


def test_the_configured_writer_is_offline_by_default() -> None:
    writer = writer_for(load_settings())
    assert writer.name == "offline"
    assert writer.model is None
