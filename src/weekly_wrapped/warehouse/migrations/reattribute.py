"""Give every stored play its own names back (revision 0008).

Plays written before revision 0008 could carry another play's artist and song keys
when Spotify had renamed their track id. Their event ids, though, were always
computed from their own song key (`identity.event_id`), so each play's true song key
is the one candidate name that reproduces its event id. This module recomputes the
keys, fills each play's spelling, and matches the plays whose keys changed with
other sources again. It reads and writes tables by name, as they are at revision
0008, so later schema changes do not alter what the migration does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, text

from weekly_wrapped import identity
from weekly_wrapped.warehouse.migrations import match_0008

FACTS = ("fact_play", "fact_play_merged")
MAX_REPEATS = 32
"""Identical rows of one file get n = 0, 1, …; no real export repeats a row more often."""


class Stored(NamedTuple):
    """One stored play, as much of it as matching and naming need."""

    table: str
    play_id: str
    user_key: int
    track_key: str
    artist_key: str
    album_key: str | None
    song_key: str
    played_at_utc: datetime
    time_precision: str
    ms_played: int | None
    source: str
    merged_into: str | None


class Name(NamedTuple):
    """A name a track id was played under: its keys and its text."""

    artist_key: str
    artist: str
    title: str
    song_key: str


@dataclass
class Catalogue:
    """What the warehouse knows of names: dimension rows, read once."""

    artists: dict[str, str] = field(default_factory=dict)
    albums: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    tracks: dict[str, str] = field(default_factory=dict)
    first_artists: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def reattribute(conn: Connection) -> None:
    """Recompute keys and spellings of every stored play; rematch what changed."""
    catalogue = _catalogue(conn)
    changed: set[tuple[int, str]] = set()
    spellings: dict[str, tuple[str, str, str | None]] = {}
    spelled: dict[str, list[dict[str, str]]] = {table: [] for table in FACTS}
    for track_key, plays in _plays_by_track(conn):
        names = _names_of(track_key, plays, catalogue)
        for play in plays:
            own = _own_name(play, names) if len(names) > 1 else None
            if own is not None and own.song_key != play.song_key:
                changed |= {(play.user_key, play.song_key), (play.user_key, own.song_key)}
                play = _rekey(conn, play, own, catalogue)
            key = _spell(play, names, catalogue, spellings)
            spelled[play.table].append({"key": key, "play": play.play_id})
    _write_spellings(conn, spellings)
    for table, values in spelled.items():
        if values:
            conn.execute(
                text(f"UPDATE {table} SET spelling_key = :key WHERE play_id = :play"),  # noqa: S608
                values,
            )
    _rematch(conn, changed)


def _catalogue(conn: Connection) -> Catalogue:
    catalogue = Catalogue()
    for key, name in conn.execute(text("SELECT artist_key, name FROM dim_artist")):
        catalogue.artists[key] = name
    for key, spotify_id, name in conn.execute(
        text("SELECT album_key, spotify_id, name FROM dim_album")
    ):
        catalogue.albums[key] = (spotify_id, name)
    for key, name in conn.execute(text("SELECT track_key, name FROM dim_track")):
        catalogue.tracks[key] = name
    for track_key, artist_key in conn.execute(
        text("SELECT track_key, artist_key FROM bridge_track_artist WHERE position = 0")
    ):
        catalogue.first_artists[track_key].append(artist_key)
    return catalogue


def _plays_by_track(conn: Connection) -> Iterator[tuple[str, list[Stored]]]:
    """Every stored and merged play, grouped by track key."""
    columns = (
        "play_id, user_key, track_key, artist_key, album_key, song_key, played_at_utc, "
        "time_precision, ms_played, ms_played_estimated, source"
    )
    plays: dict[str, list[Stored]] = defaultdict(list)
    for table in FACTS:
        merged = "merged_into" if table == "fact_play_merged" else "NULL"
        rows = conn.execute(text(f"SELECT {columns}, {merged} FROM {table}"))  # noqa: S608
        for row in rows:
            played_at = _utc(row.played_at_utc)
            ms = None if row.ms_played_estimated else int(row.ms_played)
            plays[row.track_key].append(
                Stored(
                    table,
                    row.play_id,
                    int(row.user_key),
                    row.track_key,
                    row.artist_key,
                    row.album_key,
                    row.song_key,
                    played_at,
                    row.time_precision,
                    ms,
                    row.source,
                    row[-1],
                )  # fmt: skip
            )
    yield from plays.items()


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return cast(datetime, value).replace(tzinfo=UTC) if value.tzinfo is None else value


def _names_of(track_key: str, plays: list[Stored], catalogue: Catalogue) -> list[Name]:
    """Every name the track could have been played under, the stored keys' own first."""
    titles = [catalogue.tracks.get(track_key, "")]
    songs = {p.song_key for p in plays}
    titles += [catalogue.tracks[f"n:{s}"] for s in songs if f"n:{s}" in catalogue.tracks]
    artist_keys = dict.fromkeys(
        [*(p.artist_key for p in plays), *catalogue.first_artists[track_key]]
    )
    names: dict[str, Name] = {}
    for artist_key in artist_keys:
        artist = catalogue.artists.get(artist_key)
        for title in titles:
            if artist is not None and title:
                song = identity.song_key(artist, title)
                names.setdefault(song, Name(artist_key, artist, title, song))
    return list(names.values())


def _own_name(play: Stored, names: list[Name]) -> Name | None:
    """The name whose song key reproduces the play's event id, if any does."""
    ordered = sorted(names, key=lambda name: name.song_key != play.song_key)
    for n in range(MAX_REPEATS):
        for name in ordered:
            made = identity.event_id(
                play.user_key, play.source, play.played_at_utc, name.song_key, play.ms_played, n
            )
            if made == play.play_id:
                return name
    return None


def _rekey(conn: Connection, play: Stored, own: Name, catalogue: Catalogue) -> Stored:
    album_key = play.album_key
    album = catalogue.albums.get(album_key or "")
    if album is not None and album[0] is None:
        album_key = identity.album_key(None, own.artist, album[1])
    conn.execute(
        text(
            f"UPDATE {play.table} SET artist_key = :artist, song_key = :song, "  # noqa: S608
            "album_key = :album WHERE play_id = :play"
        ),
        {"artist": own.artist_key, "song": own.song_key, "album": album_key, "play": play.play_id},
    )
    return play._replace(artist_key=own.artist_key, song_key=own.song_key, album_key=album_key)


def _spell(
    play: Stored,
    names: list[Name],
    catalogue: Catalogue,
    spellings: dict[str, tuple[str, str, str | None]],
) -> str:
    """The key of the play's spelling: the text of its own keys, as far as the warehouse kept it."""
    artist = catalogue.artists.get(play.artist_key, "?")
    title = next(
        (n.title for n in names if n.song_key == play.song_key),
        catalogue.tracks.get(play.track_key, "?"),
    )
    album = catalogue.albums.get(play.album_key or "")
    album_name = album[1] if album is not None else None
    key = identity.spelling_key(title, artist, album_name)
    spellings[key] = (title, artist, album_name)
    return key


def _write_spellings(conn: Connection, spellings: dict[str, tuple[str, str, str | None]]) -> None:
    if spellings:
        conn.execute(
            text(
                "INSERT INTO dim_spelling (spelling_key, track_name, artist_name, album_name) "
                "VALUES (:key, :track, :artist, :album)"
            ),
            [
                {"key": key, "track": track, "artist": artist, "album": album}
                for key, (track, artist, album) in spellings.items()
            ],
        )


def _rematch(conn: Connection, songs: Iterable[tuple[int, str]]) -> None:
    """Match again, from scratch, every play of the user-songs whose plays changed keys."""
    by_user: dict[int, list[str]] = defaultdict(list)
    for user_key, song_key in songs:
        by_user[user_key].append(song_key)
    for user_key, song_keys in by_user.items():
        plays = [p for song in song_keys for p in _plays_of_song(conn, user_key, song)]
        stored_as = match_0008.match(plays)
        for play in plays:
            _move(conn, play, stored_as[play.play_id])


def _plays_of_song(conn: Connection, user_key: int, song_key: str) -> list[Stored]:
    found: list[Stored] = []
    for table in FACTS:
        merged = "merged_into" if table == "fact_play_merged" else "NULL"
        rows = conn.execute(
            text(
                "SELECT play_id, user_key, track_key, artist_key, album_key, song_key, "  # noqa: S608
                "played_at_utc, time_precision, ms_played, source, "
                f"{merged} FROM {table} WHERE user_key = :user AND song_key = :song"
            ),
            {"user": user_key, "song": song_key},
        )
        found += [Stored._make((table, *row[:6], _utc(row[6]), *row[7:])) for row in rows]
    return found


def _move(conn: Connection, play: Stored, target: str) -> None:
    """Put a play where matching says: stored when it is its own target, else merged."""
    if target == play.play_id and play.table == "fact_play":
        return
    if target != play.play_id and play.merged_into == target:
        return
    columns = _fact_columns(conn)
    listed = ", ".join(columns)
    params = {"play": play.play_id, "target": target}
    if target == play.play_id:
        conn.execute(
            text(
                f"INSERT INTO fact_play ({listed}) SELECT {listed} "  # noqa: S608
                "FROM fact_play_merged WHERE play_id = :play"
            ),
            params,
        )
        conn.execute(text("DELETE FROM fact_play_merged WHERE play_id = :play"), params)
        return
    if play.table == "fact_play_merged":
        conn.execute(
            text("UPDATE fact_play_merged SET merged_into = :target WHERE play_id = :play"),
            params,
        )
        return
    conn.execute(
        text(
            f"INSERT INTO fact_play_merged ({listed}, merged_into) "  # noqa: S608
            f"SELECT {listed}, :target FROM fact_play WHERE play_id = :play"
        ),
        params,
    )
    conn.execute(text("DELETE FROM fact_play WHERE play_id = :play"), params)


_COLUMNS: dict[int, list[str]] = {}


def _fact_columns(conn: Connection) -> list[str]:
    """The columns `fact_play` has now, read from the database itself."""
    if id(conn) not in _COLUMNS:
        from sqlalchemy import inspect

        _COLUMNS[id(conn)] = [c["name"] for c in inspect(conn).get_columns("fact_play")]
    return _COLUMNS[id(conn)]
