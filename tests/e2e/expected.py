"""The recap email a person should get, worked out by the test from the plays Spotify served.

Nothing here comes from `weekly_wrapped.insights`: the rules of DESIGN §5–6 are
applied to the fake's plays in plain Python, and the results are written the way
the email's plain-text part shows them.

- An API play has no length: it lasted min(track duration, time since the person's
  previous play ended), and the first play ever lasted its whole track.
- A play of 30 s or more is a stream; minutes count every play.
- A play belongs to the local day (and week) in which it ended.
- Songs are told apart by their normalized (artist, title), a "- Remastered 2011"
  suffix dropped, and are named by the spelling played most that week, then the latest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from tests.e2e.listening import Listen

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_REMASTERED = re.compile(r"\s+-\s+remastered \d{4}$")


@dataclass(frozen=True)
class Played:
    """A play with the length the warehouse should give it and its local end time."""

    listen: Listen
    ms: int
    local: datetime

    @property
    def stream(self) -> bool:
        return self.ms >= 30_000

    @property
    def song(self) -> tuple[str, str]:
        title = _REMASTERED.sub("", self.listen.title.casefold())
        return self.listen.artist.casefold(), " ".join(title.split())


def lengths(listens: list[Listen], timezone: str) -> list[Played]:
    """One person's plays, oldest first, each with its estimated length."""
    zone, played, previous = ZoneInfo(timezone), [], None
    for listen in sorted(listens, key=lambda listen: listen.played_at):
        ms = listen.duration_ms
        if previous is not None:
            ms = min(ms, (listen.played_at - previous) // timedelta(milliseconds=1))
        played.append(Played(listen, ms, listen.played_at.astimezone(zone)))
        previous = listen.played_at
    return played


def in_days(plays: list[Played], first: date, days: int) -> list[Played]:
    return [p for p in plays if first <= p.local.date() < first + timedelta(days=days)]


@dataclass(frozen=True)
class ExpectedRecap:
    """What the plain-text email shows, line by line, and the numbers behind it."""

    minutes: str
    streams: int
    top_artist: str
    figures: list[str]
    change: list[str]
    day_by_day: list[str]
    top_tracks: list[str]
    top_artists: list[str]
    four_weeks: list[str]


def expected_recap(listens: list[Listen], timezone: str, monday: date) -> ExpectedRecap:
    """The recap of the week starting `monday` for a person with these plays."""
    history = lengths(listens, timezone)
    week = in_days(history, monday, 7)
    streams = [p for p in week if p.stream]
    total = sum(p.ms for p in week)
    artists = top_artists(week)
    weekly = [sum(p.ms for p in in_days(history, monday - timedelta(weeks=n), 7))
              for n in (3, 2, 1, 0)]  # fmt: skip
    streak = streak_days(history, monday)
    return ExpectedRecap(
        minutes=minutes(total),
        streams=len(streams),
        top_artist=artists[0][0],
        figures=[
            f"{hours(total)} listened",
            counted(len(streams), "stream"),
            f"{len({p.listen.artist for p in streams}):,} artists",
            f"{streak} days in a row" if streak != 1 else "1 day streak",
        ],
        change=change(weekly[-2], weekly[-1]),
        day_by_day=day_by_day(week),
        top_tracks=top_tracks(week),
        top_artists=[
            f"{place}. {name} ({in_minutes(ms).replace('minutes', 'min')})"
            for place, (name, ms) in zip(
                places([minutes(ms) for _, ms in artists]), artists, strict=True
            )
        ],
        four_weeks=[
            f"{'This week' if n == 3 else short_date(monday - timedelta(weeks=3 - n))}  "
            f"{minutes(ms)}"
            for n, ms in enumerate(weekly)
        ],
    )


def top_tracks(week: list[Played]) -> list[str]:
    """``1. Title · Artist (12 streams)``, most streams first, then most minutes."""
    songs: dict[tuple[str, str], list[Played]] = {}
    for play in week:
        songs.setdefault(play.song, []).append(play)
    ranked = sorted(
        (
            (-sum(p.stream for p in plays), -sum(p.ms for p in plays), spelling(plays))
            for plays in songs.values()
            if any(p.stream for p in plays)
        ),
    )[:5]
    return [
        f"{place}. {title} · {artist} ({counted(-streams, 'stream')})"
        for place, (streams, _, (title, artist)) in zip(
            places([s for s, *_ in ranked]), ranked, strict=True
        )
    ]


def spelling(plays: list[Played]) -> tuple[str, str]:
    """The (title, artist) the plays carried most often, then most recently."""
    counts = Counter((p.listen.title, p.listen.artist) for p in plays)
    latest = {(p.listen.title, p.listen.artist): p.listen.played_at for p in plays}
    return max(counts, key=lambda names: (counts[names], latest[names]))


def top_artists(week: list[Played]) -> list[tuple[str, int]]:
    """(artist, ms) of the five artists listened to longest."""
    by_artist: dict[str, list[Played]] = {}
    for play in week:
        by_artist.setdefault(play.listen.artist, []).append(play)
    ranked = sorted(
        (-sum(p.ms for p in plays), -sum(p.stream for p in plays), name)
        for name, plays in by_artist.items()
    )
    return [(name, -ms) for ms, _, name in ranked[:5]]


def day_by_day(week: list[Played]) -> list[str]:
    daily = [sum(p.ms for p in week if p.local.weekday() == day) for day in range(7)]
    hourly = [sum(p.ms for p in week if p.local.hour == hour) for hour in range(24)]
    busiest, peak = daily.index(max(daily)), hourly.index(max(hourly))
    rhythm = f"Your busiest day was {DAYS[busiest]}, and your favourite hour {clock(peak)}."
    return [rhythm] + [
        f"{DAYS[day][:3]}  {minutes(ms)}" + ("  <- busiest" if day == busiest else "")
        for day, ms in enumerate(daily)
    ]


def streak_days(history: list[Played], monday: date) -> int:
    """The longest run of days with a stream that ends within the week (later days unseen)."""
    days = sorted(
        {
            p.local.date()
            for p in history
            if p.stream and p.local.date() < monday + timedelta(days=7)
        }
    )
    longest, run = 0, 0
    for n, day in enumerate(days):
        run = run + 1 if n and day - days[n - 1] == timedelta(days=1) else 1
        if day >= monday:
            longest = max(longest, run)
    return longest


def change(last_week_ms: int, this_week_ms: int) -> list[str]:
    """``(12.5 minutes more than last week)``, of the minutes as the email rounds them."""
    delta = Decimal(minutes(this_week_ms).replace(",", "")) - Decimal(
        minutes(last_week_ms).replace(",", "")
    )
    if delta == 0:
        return []
    return [f"({in_minutes_text(one_decimal(abs(delta)))} {'more' if delta > 0 else 'less'} "
            "than last week)"]  # fmt: skip


# --- numbers as the email writes them -------------------------------------------------


def minutes(ms: int) -> str:
    """Milliseconds as minutes, one decimal, half up; a trailing ``.0`` dropped."""
    assert ms % 6000 != 3000, f"{ms} ms lies halfway between two tenths of a minute: vary the diary"
    return one_decimal(Decimal(ms) / 60_000)


def hours(ms: int) -> str:
    """The rounded minutes, as hours with one decimal: ``8.5 hours``."""
    value = one_decimal(Decimal(minutes(ms).replace(",", "")) / 60)
    return f"{value} hour" if value == "1" else f"{value} hours"


def in_minutes(ms: int) -> str:
    return in_minutes_text(minutes(ms))


def in_minutes_text(text: str) -> str:
    return f"{text} minute" if text == "1" else f"{text} minutes"


def one_decimal(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.1f}".removesuffix(".0")


def counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def places(values: list[object]) -> list[str]:
    """Standard competition ranking, a shared place written ``=2``."""
    firsts = [values.index(value) + 1 for value in values]
    return [f"={p}" if firsts.count(p) > 1 else str(p) for p in firsts]


def clock(hour: int) -> str:
    if hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    return f"{hour} am" if hour < 12 else f"{hour - 12} pm"


def short_date(day: date) -> str:
    return f"{day.day} {day:%b}"
