"""Synthetic listeners: personas whose plays look like real people's."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from weekly_wrapped import identity
from weekly_wrapped.events import (
    Context,
    Extras,
    PlayEvent,
    TrackRef,
)
from weekly_wrapped.sources.synthetic.catalog import (
    Catalog,
    CatalogAlbum,
    build_catalog,
    spotify_id,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
_SKIP_MAX_MS = 29_000
_NO_EXTRAS = Extras()
_COUNTRIES = ("US", "GB", "DE", "SE", "BR", "JP", "NG", "MX", "FR", "IN")
_PLATFORMS = ("android", "ios", "windows", "osx", "web_player", "linux")

# Relative listening by local hour, 00:00 first; a persona jitters its own copy.
_RHYTHMS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "regular": (
        (0.4, .15, .08, .04, .04, .15, .6, 1.8, 2.4, 1.4, 1., 1., 1.4, 1.2, 1., 1.1, 1.4, 2.2,
         2.6, 2.8, 3., 2.6, 1.8, .9),
        (.9, .5, .25, .1, .05, .05, .1, .3, .7, 1.3, 1.9, 2.2, 2.2, 2., 2., 2., 2., 2.1, 2.3,
         2.5, 2.6, 2.4, 2., 1.4),
    ),
    "early_bird": (
        (.05, .02, .02, .02, .1, .8, 2.2, 3., 2.6, 1.6, 1.2, 1.1, 1.4, 1.2, 1., 1.1, 1.4, 1.8,
         1.8, 1.6, 1.3, .8, .3, .1),
        (.05, .02, .02, .02, .05, .3, 1.2, 2.2, 2.6, 2.4, 2.2, 2., 1.8, 1.6, 1.5, 1.5, 1.6,
         1.7, 1.6, 1.4, 1.1, .7, .3, .1),
    ),
    "night_owl": (
        (2.6, 2.2, 1.6, 1., .5, .1, .05, .2, .6, .8, .9, 1., 1.1, 1.1, 1.1, 1.2, 1.4, 1.6,
         1.8, 2., 2.3, 2.6, 2.8, 2.8),
        (3., 2.8, 2.4, 1.8, 1., .3, .05, .05, .05, .1, .3, .7, 1.1, 1.3, 1.4, 1.5, 1.6, 1.8,
         2., 2.2, 2.5, 2.8, 3., 3.),
    ),
}  # fmt: skip


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    total, running = 0.0, []
    for weight in weights:
        total += weight
        running.append(total)
    return tuple(running)


def _draw(rng: random.Random, cumulative: Sequence[float]) -> int:
    """An index drawn in proportion to the weights behind `cumulative`."""
    index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
    return min(index, len(cumulative) - 1)


@lru_cache(maxsize=1)
def _country_by_timezone() -> Mapping[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if not line.startswith("#"))
    return {row[2]: row[0] for row in rows if len(row) >= 3}


@dataclass(frozen=True)
class _Persona:
    """How one synthetic user listens."""

    plays_per_day: float
    weekend_factor: float
    silent_day_rate: float
    session_plays: int
    skip_rate: float
    repeat_rate: float
    shuffle_rate: float
    offline_rate: float
    favourite_count: int
    max_discoveries: int
    genres: frozenset[str]
    weekday_hours: tuple[float, ...]
    weekend_hours: tuple[float, ...]
    shows: tuple[int, ...]
    episodes_per_week: int
    platforms: tuple[str, str]
    country: str
    playlists: tuple[Context, ...]
    collection: Context


def _rhythm(rng: random.Random, hours: Sequence[float]) -> tuple[float, ...]:
    return _cumulative([weight * rng.lognormvariate(0, 0.2) for weight in hours])


def _persona(user_id: int, seed: int, catalog: Catalog, timezone: str) -> _Persona:
    rng = random.Random(f"persona:{seed}:{user_id}")
    chronotype = rng.choices(list(_RHYTHMS), weights=(0.55, 0.25, 0.2))[0]
    weekday, weekend = _RHYTHMS[chronotype]
    podcasts = rng.random() < 0.35
    fallback_country = rng.choice(_COUNTRIES)
    return _Persona(
        plays_per_day=15 + 25 * rng.random() ** 3,
        weekend_factor=rng.uniform(0.6, 1.5),
        silent_day_rate=rng.uniform(0.02, 0.15),
        session_plays=rng.randint(5, 12),
        skip_rate=rng.uniform(0.12, 0.24),
        repeat_rate=rng.uniform(0.05, 0.35),
        shuffle_rate=rng.uniform(0.1, 0.8),
        offline_rate=rng.uniform(0.0, 0.1),
        favourite_count=rng.randint(5, 15),
        max_discoveries=rng.randint(1, 3),
        genres=frozenset(rng.sample(catalog.genres, rng.randint(1, 3))),
        weekday_hours=_rhythm(rng, weekday),
        weekend_hours=_rhythm(rng, weekend),
        shows=tuple(rng.sample(range(len(catalog.shows)), rng.randint(1, 2))) if podcasts else (),
        episodes_per_week=rng.randint(1, 4) if podcasts else 0,
        platforms=(rng.choice(_PLATFORMS), rng.choice(_PLATFORMS)),
        country=_country_by_timezone().get(timezone, fallback_country),
        playlists=tuple(
            Context(type="playlist", uri=f"spotify:playlist:{spotify_id(rng)}")
            for _ in range(rng.randint(2, 6))
        ),
        collection=Context(type="collection", uri=f"spotify:user:listener{user_id}:collection"),
    )


@dataclass(frozen=True)
class _Week:
    """Which artists a user plays this week, and how much."""

    artists: tuple[int, ...]
    cumulative: tuple[float, ...]

    def pick(self, rng: random.Random) -> int:
        return self.artists[_draw(rng, self.cumulative)]


class _Taste:
    """Favourite artists whose weights drift week to week: some fade, new ones rise."""

    def __init__(self, persona: _Persona, catalog: Catalog, rng: random.Random) -> None:
        self._persona, self._rng = persona, rng
        self._appeal = [
            artist.popularity * (5.0 if persona.genres.intersection(artist.genres) else 1.0)
            for artist in catalog.artists
        ]
        self.heard: set[int] = set()
        self._favourites: dict[int, float] = {}
        self._fading: set[int] = set()
        self._rising: dict[int, float] = {}
        for rank in range(min(persona.favourite_count, len(self._appeal))):
            artist = self._unheard()
            self._favourites[artist] = rng.lognormvariate(0, 0.3) / (rank + 1) ** 0.7
            self.heard.add(artist)
        for _ in range(min(25, len(self._appeal) // 4)):
            self.heard.add(self._unheard())
        self.heard.discard(-1)

    def _unheard(self) -> int:
        """A new artist, leaning to the persona's genres, or -1 when none is left."""
        candidates = [a for a in range(len(self._appeal)) if a not in self.heard]
        if not candidates:
            return -1
        return self._rng.choices(candidates, weights=[self._appeal[a] for a in candidates])[0]

    def next_week(self) -> _Week:
        """Drift the favourites and mix in this week's rotation and discoveries."""
        discoveries = [a for a in self._discover() if a >= 0]
        self._drift(discoveries)
        rotation = [a for a in sorted(self.heard) if a not in self._favourites]
        rotation = self._rng.sample(rotation, min(12, len(rotation)))
        self.heard.update(discoveries)
        return self._mix(rotation, discoveries)

    def _discover(self) -> list[int]:
        found: list[int] = []
        for _ in range(self._rng.randint(1, self._persona.max_discoveries)):
            artist = self._unheard()
            self.heard.add(artist)
            found.append(artist)
        self.heard.difference_update(found)
        return found

    def _drift(self, discoveries: list[int]) -> None:
        for artist, weight in list(self._favourites.items()):
            weight *= self._rng.lognormvariate(0, 0.15)
            if artist in self._fading:
                weight *= 0.5
            elif artist in self._rising:
                weight = min(weight * 1.8, self._rising[artist])
            elif self._rng.random() < 0.05:
                self._fading.add(artist)
            self._favourites[artist] = weight
            if weight < 0.02:
                del self._favourites[artist]
                self._fading.discard(artist)
        self._rising = {a: t for a, t in self._rising.items() if self._favourites.get(a, t) < t}
        if self._wants_new_favourite():
            self._rise(discoveries)

    def _wants_new_favourite(self) -> bool:
        steady = len(self._favourites) - len(self._fading)
        return self._rng.random() < (0.5 if steady < self._persona.favourite_count else 0.08)

    def _rise(self, discoveries: list[int]) -> None:
        known = [a for a in sorted(self.heard) if a not in self._favourites]
        choices = discoveries if discoveries and self._rng.random() < 0.5 else known
        if not choices:
            return
        artist = self._rng.choice(choices)
        weights = sorted(self._favourites.values()) or [1.0]
        target = weights[len(weights) // 2] * self._rng.lognormvariate(0.3, 0.4)
        self._favourites[artist] = target * 0.25
        self._rising[artist] = target
        if len(self._favourites) - len(self._fading) > 15:
            self._fading.add(min(self._favourites, key=self._favourites.__getitem__))

    def _mix(self, rotation: list[int], discoveries: list[int]) -> _Week:
        favourites = sorted(self._favourites)
        total = sum(self._favourites.values()) or 1.0
        share = 0.75 if rotation else 0.9
        weights = [share * self._favourites[a] / total for a in favourites]
        weights += [0.15 / max(1, len(rotation))] * len(rotation)
        weights += [0.1 / max(1, len(discoveries))] * len(discoveries)
        if not weights:
            return _Week((0,), (1.0,))
        return _Week(tuple(favourites + rotation + discoveries), _cumulative(weights))


class _Play(NamedTuple):
    end_ms: int
    track: TrackRef
    ms_played: int
    extras: Extras
    context: Context | None


@dataclass
class _Session:
    """One sitting of listening: where the tracks come from and how they are played."""

    tracks: Iterator[TrackRef]
    context: Context | None
    shuffle: bool
    offline: bool
    platform: str


@dataclass
class _Day:
    """A local day's plan: its on-repeat track, if any, and how often it may come back."""

    repeat: TrackRef | None
    repeats_left: int


class _Listener:
    """Walks one user's days and yields their plays in time order."""

    def __init__(self, persona: _Persona, catalog: Catalog, key: str, zone: ZoneInfo) -> None:
        self._persona, self._catalog, self._key, self._zone = persona, catalog, key, zone
        self._taste = _Taste(persona, catalog, random.Random(f"taste:{key}"))
        self._rng = random.Random(key)
        self._week = _Week((0,), (1.0,))
        self._episodes: dict[date, list[TrackRef]] = {}
        self._extras: dict[tuple[object, ...], Extras] = {}
        self._cursor = 0

    def plays(self, start_ms: int, end_ms: int) -> Iterator[_Play]:
        """Every play ending in (start_ms, end_ms], oldest first."""
        first, last = (self._local_date(ms) for ms in (start_ms, end_ms))
        self._cursor = start_ms - _DAY_MS
        for ordinal in range(self._first_monday(start_ms), last.toordinal() + 1):
            day = date.fromordinal(ordinal)
            if day.weekday() == 0:
                self._start_week(day)
            if day < first:
                continue
            self._rng = random.Random(f"day:{self._key}:{ordinal}")
            for play in self._day(day):
                if play.end_ms > end_ms:
                    return
                if play.end_ms > start_ms:
                    yield play

    @staticmethod
    def _first_monday(start_ms: int) -> int:
        """A Monday on or before the first local day in any timezone, so tastes agree."""
        utc_day = (_EPOCH + timedelta(milliseconds=start_ms)).date()
        return utc_day.toordinal() - utc_day.weekday() - 7

    def _local_date(self, ms: int) -> date:
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(self._zone).date()

    def _start_week(self, monday: date) -> None:
        self._week = self._taste.next_week()
        self._rng = random.Random(f"week:{self._key}:{monday.toordinal()}")
        self._episodes = {}
        for _ in range(self._persona.episodes_per_week):
            day = monday + timedelta(days=self._rng.randrange(7))
            self._episodes.setdefault(day, []).append(self.episode(monday))

    def episode(self, monday: date) -> TrackRef:
        show = self._catalog.shows[self._rng.choice(self._persona.shows)]
        latest = monday.toordinal() // 7 % len(show.episodes)
        index = latest if self._rng.random() < 0.7 else self._rng.randrange(len(show.episodes))
        return show.episodes[index]

    def _day(self, day: date) -> Iterator[_Play]:
        volume = self._volume(day)
        sizes = self._session_sizes(volume)
        episodes = self._episodes.get(day, [])
        starts = sorted(self._session_start(day) for _ in range(len(sizes) + len(episodes)))
        plan = self._plan_day(volume)
        kinds: list[int | TrackRef] = [*sizes, *episodes]
        self._rng.shuffle(kinds)
        for start, kind in zip(starts, kinds, strict=True):
            start = max(start, self._cursor + self._rng.randint(30_000, 600_000))
            if isinstance(kind, TrackRef):
                yield self._episode_play(start, kind)
            else:
                yield from self._session(start, kind, plan)

    def _volume(self, day: date) -> int:
        persona = self._persona
        if self._rng.random() < persona.silent_day_rate:
            return 0
        weekday_factor = 7 / (5 + 2 * persona.weekend_factor)
        factor = weekday_factor * (persona.weekend_factor if day.weekday() >= 5 else 1.0)
        mean = persona.plays_per_day * factor / (1 - persona.silent_day_rate)
        return max(1, round(mean * self._rng.lognormvariate(-0.06, 0.35)))

    def _session_sizes(self, volume: int) -> list[int]:
        count = min(volume, max(1, round(volume / self._persona.session_plays)))
        if count <= 1:
            return [volume] if volume else []
        cuts = sorted(self._rng.sample(range(1, volume), count - 1))
        return [b - a for a, b in zip([0, *cuts], [*cuts, volume], strict=True)]

    def _session_start(self, day: date) -> int:
        persona, rng = self._persona, self._rng
        hours = persona.weekend_hours if day.weekday() >= 5 else persona.weekday_hours
        hour = _draw(rng, hours)
        local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=self._zone)
        return int(local.timestamp()) * 1000 + rng.randrange(60_000)

    def _plan_day(self, volume: int) -> _Day:
        if volume < 6 or self._rng.random() >= self._persona.repeat_rate:
            return _Day(None, 0)
        artist = self._week.pick(self._rng)
        return _Day(self._hit(artist), self._rng.randint(3, 10))

    def _hit(self, artist: int) -> TrackRef:
        tracks = self._catalog.artists[artist].tracks
        return tracks[int(len(tracks) * self._rng.random() ** 2.2)]

    def _session(self, start_ms: int, size: int, day: _Day) -> Iterator[_Play]:
        session, rng, cursor = self._open_session(), self._rng, start_ms
        reason_start = rng.choice(("clickrow", "playbtn", "appload", "remote"))
        for position in range(size):
            track, repeat = next(session.tracks), False
            if day.repeat is not None and day.repeats_left and rng.random() < 0.2:
                track, repeat, day.repeats_left = day.repeat, True, day.repeats_left - 1
            ms_played, reason_end = self._outcome(track, repeat, last=position == size - 1)
            extras = self._extras_for(reason_start, reason_end, session)
            cursor += ms_played
            self._cursor = cursor
            yield _Play(cursor, track, ms_played, extras, session.context)
            reason_start = reason_end if reason_end != "endplay" else "clickrow"
            cursor += self._gap(reason_end)

    def _open_session(self) -> _Session:
        rng, persona, week = self._rng, self._persona, self._week
        mode = rng.random()
        artist = week.pick(rng)
        platform = persona.platforms[0] if rng.random() < 0.8 else persona.platforms[1]
        offline = rng.random() < persona.offline_rate
        if mode < 0.15:
            album = rng.choice(self._catalog.artists[artist].albums)
            uri = f"spotify:album:{album.ref.id}"
            tracks = self._album_then_week(album)
            return _Session(tracks, Context(type="album", uri=uri), False, offline, platform)
        shuffle = rng.random() < persona.shuffle_rate
        if mode < 0.3:
            uri = f"spotify:artist:{self._catalog.artists[artist].ref.id}"
            context = Context(type="artist", uri=uri)
            return _Session(self._artist_hits(artist), context, shuffle, offline, platform)
        listed = self._listed_context(mode)
        return _Session(self._week_hits(), listed, shuffle, offline, platform)

    def _listed_context(self, mode: float) -> Context | None:
        """A playlist, the liked-songs collection, or nothing (radio, search)."""
        if mode < 0.7:
            return self._rng.choice(self._persona.playlists)
        return self._persona.collection if mode < 0.85 else None

    def _album_then_week(self, album: CatalogAlbum) -> Iterator[TrackRef]:
        yield from album.tracks
        yield from self._week_hits()

    def _artist_hits(self, artist: int) -> Iterator[TrackRef]:
        while True:
            yield self._hit(artist)

    def _week_hits(self) -> Iterator[TrackRef]:
        while True:
            yield self._hit(self._week.pick(self._rng))

    def _outcome(self, track: TrackRef, repeat: bool, last: bool) -> tuple[int, str]:
        rng, duration = self._rng, track.duration_ms or 180_000
        skip_rate = self._persona.skip_rate * (0.3 if repeat else 1.0)
        if rng.random() < skip_rate:
            return 1_500 + int((_SKIP_MAX_MS - 1_500) * rng.random() ** 1.5), "fwdbtn"
        if last and rng.random() < 0.4:
            return rng.randint(30_000, max(30_000, duration - 1_000)), "endplay"
        return duration - int(rng.random() * 1_200), "trackdone"

    def _gap(self, reason_end: str) -> int:
        rng = self._rng
        if rng.random() < 0.04:
            return rng.randint(5_000, 240_000)
        spread = 1_300 if reason_end == "fwdbtn" else 400
        return 200 + int(rng.random() * spread)

    def _extras_for(self, reason_start: str, reason_end: str, session: _Session) -> Extras:
        key = (reason_start, reason_end, session.shuffle, session.offline, session.platform)
        extras = self._extras.get(key)
        if extras is None:
            extras = Extras(
                reason_start=reason_start,
                reason_end=reason_end,
                shuffle=session.shuffle,
                skipped=reason_end == "fwdbtn",
                offline=session.offline,
                platform=session.platform,
                conn_country=self._persona.country,
                incognito=False,
            )
            self._extras[key] = extras
        return extras

    def _episode_play(self, start_ms: int, episode: TrackRef) -> _Play:
        rng, duration = self._rng, episode.duration_ms or 1_800_000
        finished = rng.random() < 0.7
        share = rng.uniform(0.9, 1.0) if finished else rng.uniform(0.1, 0.6)
        ms_played = int(duration * share)
        session = _Session(iter(()), None, False, rng.random() < 0.2, self._persona.platforms[0])
        reason_end = "trackdone" if finished else "endplay"
        extras = self._extras_for("clickrow", reason_end, session)
        self._cursor = start_ms + ms_played
        context = Context(
            type="show", uri=f"spotify:show:{episode.show.id if episode.show else ''}"
        )
        return _Play(self._cursor, episode, ms_played, extras, context)


def _to_event(play: _Play, user_id: int, source: Literal["manual", "api"]) -> PlayEvent:
    track = play.track
    played_at = _EPOCH + timedelta(milliseconds=play.end_ms)
    performer = track.show.name if track.show is not None else track.artists[0].name
    ms_played = play.ms_played if source == "manual" else None
    return PlayEvent(
        event_id=identity.event_id(
            user_id, source, played_at, identity.song_key(performer, track.name), ms_played, 0
        ),
        user_id=user_id,
        played_at=played_at,
        time_precision="s",
        ms_played=ms_played,
        source=source,
        kind="episode" if track.show is not None else "track",
        track=track,
        context=play.context,
        extras=play.extras if source == "manual" else _NO_EXTRAS,
    )


def generate_plays(
    user_id: int,
    *,
    weeks: int,
    seed: int,
    end: datetime | None = None,
    catalog: Catalog | None = None,
    timezone: str = "UTC",
    source: Literal["manual", "api"] = "manual",
) -> Iterator[PlayEvent]:
    """One user's plays over the `weeks` weeks before `end` (default now), oldest first.

    The same arguments always give the same plays. With `source="api"` the plays
    look like recently-played polls: no `ms_played`, no playback extras, no podcasts.
    """
    if user_id < 1 or weeks < 0:
        raise ValueError(f"need user_id >= 1 and weeks >= 0, not {user_id} and {weeks}")
    end = datetime.now(UTC) if end is None else end
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware, e.g. datetime.now(UTC)")
    catalog = build_catalog(seed) if catalog is None else catalog
    persona = _persona(user_id, seed, catalog, timezone)
    listener = _Listener(persona, catalog, f"{seed}:{user_id}", ZoneInfo(timezone))
    end_ms = (end - _EPOCH) // timedelta(milliseconds=1)
    for play in listener.plays(end_ms - weeks * _WEEK_MS, end_ms):
        if source == "api" and play.track.show is not None:
            continue
        yield _to_event(play, user_id, source)
