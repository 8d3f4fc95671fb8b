"""Two weeks of listening by three people, as the fake Spotify serves it to the poller.

Each person listens in sessions at their own local hours. Most plays run to the end,
some are skipped after a few seconds, and some songs are played again at once, so
several plays of one song end in the same minute (one after exactly 30 s, the
shortest stream, one after 29 s, the longest skip). Spotify renames two songs part
way through: one gains a "- Remastered 2011" suffix (still the same song), the other
a "(feat. …)" credit (a new song by the identity rules of DESIGN §3). Some sessions
run past local midnight, one of them into the next week.

The test works out the recap from these plays itself (`tests.e2e.expected`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.fakes.spotify import Catalog, FakeSpotify
from tests.fakes.spotify.catalog import Track

REPLAY_SECONDS = (12, 29, 30, 41)
"""How long an immediate replay lasts before the person moves on: skips, and streams."""


@dataclass(frozen=True)
class Person:
    spotify_id: str
    name: str
    email: str
    timezone: str
    session_hours: tuple[float, ...]
    """Local hours at which a listening session starts, every day."""
    artists: tuple[int, ...]
    """Positions in the catalog of the artists whose songs the person plays."""
    days_off: tuple[int, ...] = ()
    """Days (0 is the first) without any listening."""


PEOPLE = (
    Person("ada.l", "Ada Lovelace", "ada@example.org", "Europe/Berlin", (8.25, 20.5),
           (0, 1, 2, 3, 4, 5)),
    Person("grace.h", "Grace Hopper", "grace@example.org", "America/New_York", (7.0, 21.75),
           (6, 7, 8, 9, 10), days_off=(3, 8)),
    Person("alan.t", "Alan Turing", "alan@example.org", "Asia/Kolkata", (6.5, 23.5),
           (11, 12, 13, 14), days_off=(5,)),
)  # fmt: skip


@dataclass(frozen=True)
class Listen:
    """One play as Spotify served it: who, when it ended, and the names it carried."""

    person: str
    played_at: datetime
    track_id: str
    title: str
    artist: str
    duration_ms: int


@dataclass(frozen=True)
class Rename:
    """Spotify renames a track at `at`: plays served after it carry the new title."""

    at: datetime
    track_id: str
    title: str


@dataclass(frozen=True)
class Diary:
    """Everyone's plays, oldest first, and the renames between them."""

    listens: list[Listen]
    renames: list[Rename]

    def of(self, person: Person) -> list[Listen]:
        return [listen for listen in self.listens if listen.person == person.spotify_id]

    def rounds(self, most_per_person: int) -> list[datetime]:
        """Times to poll at: each reveals at most `most_per_person` new plays per person.

        Every rename falls between two polls, so each play carries the title it had.
        """
        cuts: list[datetime] = []
        counts: dict[str, int] = {}
        renames = sorted(r.at for r in self.renames)
        for listen in self.listens:
            due = renames and listen.played_at > renames[0]
            if due or counts.get(listen.person, 0) == most_per_person:
                cuts.append(renames.pop(0) if due else cuts_before(listen))
                counts = {}
            counts[listen.person] = counts.get(listen.person, 0) + 1
        return [*cuts, self.listens[-1].played_at]


def cuts_before(listen: Listen) -> datetime:
    return listen.played_at - timedelta(milliseconds=1)


def write_diary(catalog: Catalog, week_start: date) -> Diary:
    """The listening from a week before `week_start` to the Monday after its week."""
    first_day = week_start - timedelta(days=7)
    tracks = catalog.track_list()
    ada, grace, alan = PEOPLE
    shared = songs_of(catalog, ada)[0]
    remaster = Rename(_at(week_start + timedelta(days=3), 12, "UTC"), shared.id,
                      f"{shared.name} - Remastered 2011")  # fmt: skip
    credited = songs_of(catalog, grace)[0]
    feature = Rename(_at(week_start - timedelta(days=2), 12, "UTC"), credited.id,
                     f"{credited.name} (feat. {catalog.artists[tracks[0].artist_ids[0]].name})")  # fmt: skip
    plays: list[tuple[Person, datetime, Track]] = []
    for n, person in enumerate(PEOPLE):
        songs = songs_of(catalog, person)
        if person is alan:
            # Alan plays Ada's favourite only before Spotify renames it: his recap must
            # name it as he heard it, never by the title only Ada's later plays carry.
            songs.insert(1, shared)
        plays += listen_for(person, songs, first_day, 15, random.Random(n), shared, remaster.at)
    # A few plays long before, so the four-week trend has an older week.
    plays += [(alan, _at(first_day - timedelta(days=5), 19 + h / 10, alan.timezone), tracks[-1])
              for h in range(3)]  # fmt: skip
    renames = [remaster, feature]
    listens = [as_served(person, at, track, catalog, renames) for person, at, track in plays]
    return Diary(sorted(listens, key=lambda listen: listen.played_at), renames)


def songs_of(catalog: Catalog, person: Person) -> list[Track]:
    """The person's songs, favourites first: four from each of their artists."""
    artists = list(catalog.artists.values())
    chosen = []
    for position in person.artists:
        albums = [catalog.albums[album] for album in artists[position].album_ids]
        chosen += [catalog.tracks[track] for album in albums for track in album.track_ids][::4]
    favourites = chosen[::2] + chosen[1::2]
    return favourites


def listen_for(
    person: Person,
    songs: list[Track],
    first_day: date,
    days: int,
    rng: random.Random,
    shared: Track,
    renamed_at: datetime,
) -> Iterator[tuple[Person, datetime, Track]]:
    """Sessions of plays, each ending where the next begins; some skipped, some replayed."""
    weights = [1 / (rank + 1) for rank in range(len(songs))]
    for day in range(days):
        if day in person.days_off:
            continue
        for hour in person.session_hours:
            start = _at(first_day + timedelta(days=day), hour, person.timezone)
            ended = start + timedelta(minutes=rng.randint(0, 15))
            for _ in range(rng.randint(4, 8)):
                song = rng.choices(songs, weights)[0]
                if song is shared and person is not PEOPLE[0] and ended > renamed_at:
                    song = songs[0]
                if rng.random() < 0.12:
                    ended += timedelta(seconds=rng.randint(4, 25))  # skipped
                else:
                    ended += timedelta(milliseconds=song.duration_ms)
                yield person, ended, song
                if rng.random() < 0.1:  # played again at once, ending in the same minute
                    ended += timedelta(seconds=rng.choice(REPLAY_SECONDS))
                    yield person, ended, song


def as_served(
    person: Person, at: datetime, track: Track, catalog: Catalog, renames: list[Rename]
) -> Listen:
    title = track.name
    for rename in renames:
        if rename.track_id == track.id and at > rename.at:
            title = rename.title
    artist = catalog.artists[track.artist_ids[0]].name
    return Listen(person.spotify_id, at, track.id, title, artist, track.duration_ms)


def reveal(fake: FakeSpotify, diary: Diary, after: datetime | None, until: datetime) -> int:
    """The people go on listening: Spotify learns of their plays up to `until`."""
    revealed = 0
    for rename in diary.renames:
        if after is not None and rename.at <= after:  # the plays before it are polled
            fake.catalog.tracks[rename.track_id].name = rename.title
    for listen in diary.listens:
        if (after is None or listen.played_at > after) and listen.played_at <= until:
            fake.listen(listen.person, listen.track_id, listen.played_at)
            revealed += 1
    return revealed


def _at(day: date, hour: float, timezone: str) -> datetime:
    """`hour` o'clock local time on `day`, in UTC, to the second."""
    local = datetime.combine(day, time(), ZoneInfo(timezone)) + timedelta(hours=hour)
    return local.astimezone(UTC).replace(microsecond=0)
