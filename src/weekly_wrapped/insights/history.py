"""The user's own history, as material for recommendations: all of it computed in SQL.

Two lists, neither ever holding a song played in the recap's week:

- favourites gone quiet: songs streamed many times that have not been played in
  the last `QUIET_WEEKS` weeks (this week included);
- more from this week's top artists: their other songs the user has streamed
  before but did not play this week.

Only the history up to the end of the week counts, so an old week's recap reads
the same whenever it is rebuilt. Incognito plays never count as streams, but any
play, incognito or not, counts as "heard", so nothing just played is suggested.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    case,
    false,
    func,
    literal_column,
    select,
)

from weekly_wrapped.rows import STREAM_MS
from weekly_wrapped.warehouse.schema import dim_spelling, dim_track, fact_play
from weekly_wrapped.weeks import date_key, week_date_keys

QUIET_WEEKS = 8
"""A favourite counts as gone quiet after this many weeks without a play."""

LOVED_STREAMS = 3
"""Streams a song needs before it counts as a favourite."""

FAVOURITES = 5
"""Favourites gone quiet to offer a writer."""

PER_TOP_ARTIST = 2
"""Other songs to offer from each of this week's top artists."""

TOP_ARTISTS = 3
"""How many of this week's top artists to look through."""


class PastTrack(BaseModel):
    """A song from the user's history that a writer may recommend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    track: str
    artist: str
    streams: int
    """Streams of the song up to the end of the week."""
    last_played: date
    """The local day of its latest play."""
    spotify_id: str | None = None


class History(BaseModel):
    """What a writer may recommend from the user's own history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    favourites_gone_quiet: list[PastTrack] = Field(default_factory=list)
    more_from_top_artists: list[PastTrack] = Field(default_factory=list)


def load_history(
    conn: Connection, user_key: int, week_start: date, top_artists: Sequence[str]
) -> History:
    """Recommendation material for one user-week; `top_artists` are this week's, best first."""
    favourites = _favourites_gone_quiet(conn, user_key, week_start)
    seen = {(t.track, t.artist) for t in favourites}
    more: list[PastTrack] = []
    artists = list(dict.fromkeys(top_artists))[:TOP_ARTISTS]
    keys = _artist_keys(conn, user_key, artists)
    by_artist = [keys.get(artist, []) for artist in artists]
    for found in _more_from_artists(conn, user_key, week_start, by_artist):
        if (found.track, found.artist) not in seen:
            seen.add((found.track, found.artist))
            more.append(found)
    return History(favourites_gone_quiet=favourites, more_from_top_artists=more)


def _songs(user_key: int, week_start: date) -> Select[Any]:
    """Per song: streams and last local day, to week end (`_named` adds names and ids).

    The plays alone: the catalogue is joined only for the few songs a list keeps.
    """
    _, week_end = week_date_keys(week_start)
    return (
        select(
            fact_play.c.song_key,
            _streams().label("streams"),
            func.max(fact_play.c.local_date_key).label("last_key"),
        )
        .where(
            fact_play.c.user_key == user_key,
            fact_play.c.kind == "track",
            fact_play.c.local_date_key < week_end,
        )
        .group_by(fact_play.c.song_key)
    )


def _named(
    found: Select[Any], user_key: int, week_start: date, order: Sequence[str]
) -> Select[Any]:
    """`found` songs (few: already limited), each named as the user streamed it most, then latest.

    Naming only the songs a list keeps means one probe per listed song, never one per
    song of the whole history.
    """
    _, week_end = week_date_keys(week_start)
    songs = found.subquery()
    track = _spelled(dim_spelling.c.track_name, songs.c.song_key, user_key, week_end)
    artist = _spelled(dim_spelling.c.artist_name, songs.c.song_key, user_key, week_end)
    spotify_id = _spotify_id(songs.c.song_key, user_key, week_end)
    return select(
        songs.c.song_key,
        track.label("track"),
        artist.label("artist"),
        spotify_id.label("spotify_id"),
        songs.c.streams,
        songs.c.last_key,
    ).order_by(*(songs.c[o[1:]].desc() if o.startswith("-") else songs.c[o] for o in order))


def _streams_of(mine: Any, song: Any, user_key: int, week_end: int) -> tuple[Any, ...]:
    """The user's music streams of `song` before week end, among the plays `mine`.

    Kind and length are literals, as in the partial index of music streams by
    (user, song), so that the index answers the probe.
    """
    return (
        mine.c.user_key == user_key,
        mine.c.song_key == song,
        mine.c.local_date_key < week_end,
        mine.c.kind == literal_column("'track'"),
        mine.c.ms_played >= literal_column(str(STREAM_MS)),
    )


def _spelled(name: ColumnElement[str], song: Any, user_key: int, week_end: int) -> Any:
    """`name` of `song` in the spelling the user streamed most, then latest, to week end."""
    mine = fact_play.alias("spelled")
    return (
        select(name)
        .select_from(mine.join(dim_spelling, dim_spelling.c.spelling_key == mine.c.spelling_key))
        .where(*_streams_of(mine, song, user_key, week_end))
        .group_by(mine.c.spelling_key, name)
        .order_by(func.count().desc(), func.max(mine.c.played_at_utc).desc(), mine.c.spelling_key)
        .limit(1)
        .scalar_subquery()
    )


def _spotify_id(song: Any, user_key: int, week_end: int) -> Any:
    """A Spotify id of `song` among the tracks the user streamed it as, to week end."""
    mine = fact_play.alias("streamed")
    return (
        select(func.max(dim_track.c.spotify_id))
        .select_from(mine.join(dim_track, dim_track.c.track_key == mine.c.track_key))
        .where(*_streams_of(mine, song, user_key, week_end))
        .scalar_subquery()
    )


def _streams() -> ColumnElement[int]:
    """Streams: plays of 30 s or more, never incognito ones."""
    is_stream = (fact_play.c.ms_played >= STREAM_MS) & (fact_play.c.incognito == false())
    return func.sum(case((is_stream, 1), else_=0))


def _favourites_gone_quiet(conn: Connection, user_key: int, week_start: date) -> list[PastTrack]:
    quiet_since = date_key(week_start - timedelta(weeks=QUIET_WEEKS - 1))
    last_key = func.max(fact_play.c.local_date_key)
    query = (
        _songs(user_key, week_start)
        .having(last_key < quiet_since, _streams() >= LOVED_STREAMS)
        .order_by(_streams().desc(), last_key, fact_play.c.song_key)
        .limit(FAVOURITES)
    )
    named = _named(query, user_key, week_start, ["-streams", "last_key", "song_key"])
    return [_past_track(row) for row in conn.execute(named)]


def _more_from_artists(
    conn: Connection, user_key: int, week_start: date, by_artist: Sequence[Sequence[str]]
) -> list[PastTrack]:
    """For each artist in turn (given by its keys), up to `PER_TOP_ARTIST` of its songs
    streamed before and not played this week; in one pass over the user's history."""
    groups = [(place, keys) for place, keys in enumerate(by_artist) if keys]
    if not groups:
        return []
    week_first, week_end = week_date_keys(week_start)
    played_this_week = select(fact_play.c.song_key).where(
        fact_play.c.user_key == user_key,
        fact_play.c.local_date_key >= week_first,
        fact_play.c.local_date_key < week_end,
    )
    artist = case(*((fact_play.c.artist_key.in_(keys), place) for place, keys in groups))
    last_key = func.max(fact_play.c.local_date_key)
    songs = (
        _songs(user_key, week_start)
        .add_columns(artist.label("artist_place"))
        .where(
            fact_play.c.artist_key.in_([key for _, keys in groups for key in keys]),
            fact_play.c.song_key.not_in(played_this_week),
        )
        .group_by(artist)
        .having(_streams() >= 1)
        .add_columns(
            func.row_number()
            .over(
                partition_by=artist,
                order_by=(_streams().desc(), last_key.desc(), fact_play.c.song_key),
            )
            .label("place")
        )
        .subquery()
    )
    kept = select(songs).where(songs.c.place <= PER_TOP_ARTIST)
    named = _named(kept, user_key, week_start, ["artist_place", "place"])
    return [_past_track(row) for row in conn.execute(named)]


def _artist_keys(conn: Connection, user_key: int, artists: Sequence[str]) -> dict[str, list[str]]:
    """For each name in `artists`, the keys of the artists the user played under that name.

    Two plain steps, each one pass for all the names: a subquery over the user's plays
    inside the song query let PostgreSQL, with statistics not yet caught up with an
    import, rescan them for every play.
    """
    if not artists:
        return {}
    named = select(dim_spelling.c.spelling_key, dim_spelling.c.artist_name).where(
        dim_spelling.c.artist_name.in_(artists)
    )
    spellings = {key: name for key, name in conn.execute(named)}
    if not spellings:
        return {}
    found = conn.execute(
        select(fact_play.c.spelling_key, fact_play.c.artist_key)
        .where(fact_play.c.user_key == user_key, fact_play.c.spelling_key.in_(spellings))
        .distinct()
    )
    keys: dict[str, set[str]] = {}
    for spelling_key, artist_key in found:
        keys.setdefault(spellings[spelling_key], set()).add(artist_key)
    return {name: sorted(found_keys) for name, found_keys in keys.items()}


def _past_track(row: Row[Any]) -> PastTrack:
    last_key = int(row.last_key)
    return PastTrack(
        track=row.track,
        artist=row.artist,
        streams=int(row.streams),
        last_played=date(last_key // 10000, last_key // 100 % 100, last_key % 100),
        spotify_id=row.spotify_id,
    )
