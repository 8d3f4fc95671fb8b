"""The shared fake music world of synthetic listening: artists, albums, tracks and shows."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache

from weekly_wrapped import identity
from weekly_wrapped.events import (
    AlbumRef,
    ArtistRef,
    ShowRef,
    TrackRef,
)

_BASE62 = string.digits + string.ascii_letters

_GENRES = (
    "indie pop", "indie rock", "dream pop", "shoegaze", "alt r&b", "neo soul", "hip hop",
    "trap", "techno", "house", "drum and bass", "ambient", "modern classical", "jazz",
    "folk", "singer-songwriter", "metal", "punk", "k-pop", "j-pop", "city pop", "latin pop",
    "reggaeton", "afrobeats", "country", "lo-fi beats", "synthwave", "bossa nova",
)  # fmt: skip
_LONG_GENRES = frozenset({"ambient", "modern classical", "techno", "jazz"})
_SHORT_GENRES = frozenset({"punk", "k-pop", "trap"})
_EXPLICIT_GENRES = frozenset({"hip hop", "trap", "punk", "reggaeton"})
_ADJECTIVES = (
    "Velvet", "Paper", "Neon", "Hollow", "Golden", "Quiet", "Electric", "Silver", "Wild",
    "Midnight", "Crystal", "Static", "Lunar", "Amber", "Broken", "Northern", "Slow", "Bright",
    "Secret", "Endless", "Faded", "Glass", "Sleepy", "Burning", "Violet", "Distant", "Soft",
    "Heavy", "Little", "Open", "Salt", "Summer", "Winter", "Blue", "Copper", "Wooden",
)  # fmt: skip
_NOUNS = (
    "Foxes", "Lanterns", "Harbor", "Machines", "Tides", "Orchard", "Signals", "Ghosts",
    "Rivers", "Satellites", "Kites", "Wolves", "Gardens", "Echoes", "Mirrors", "Parade",
    "Engines", "Meadows", "Comets", "Islands", "Letters", "Circuits", "Horses", "Bells",
    "Café", "Mañana", "Fjörd", "Skyline", "Weather", "Hearts", "Rooms", "Highways",
)  # fmt: skip
_FIRST_NAMES = (
    "Mara", "Jonas", "Ilse", "Tomas", "Noor", "Kai", "Lena", "Ruben", "Sade", "Theo", "Yara",
    "Elio", "Ines", "Otto", "Priya", "Cass", "Dario", "Freya", "Kwame", "Lucia", "Nils",
    "Oona", "Rafa", "Selin", "Tariq", "Vera", "Wren", "Zadie", "Emeka", "Hana",
)  # fmt: skip
_LAST_NAMES = (
    "Lind", "Okafor", "Vance", "Halvorsen", "Moreau", "Castell", "Ferro", "Quill", "Sato",
    "Adeyemi", "Brandt", "Delacroix", "Esposito", "Gallo", "Ivers", "Kowal", "Marsh",
    "Novak", "Pereira", "Reyes", "Strand", "Tanaka", "Voss", "Whitlock", "Yilmaz",
)  # fmt: skip
_UNICODE_ARTISTS = (
    "Ólafur Hrafnsson", "Renée Solène", "Zoë Mäkelä", "青い灯台", "Sólveig Ívarsdóttir",
    "Niño Ébano", "Ærø Bølger",
)  # fmt: skip
_SHOWS = (
    "The Long Commute", "Deep Field Notes", "Kitchen Table Science", "Quiet Histories",
    "Café Económico", "Weekly Byte", "Small Hours", "The Footnote",
)  # fmt: skip
_TOPICS = (
    "Why we sleep badly", "The economics of coffee", "Lost cities", "How bridges fail",
    "The first computers", "Inside a volcano", "Octopus minds", "The price of rent",
    "Maps that lied", "A history of salt", "Night trains", "Tiny forests", "Deep sea cables",
    "The loudness war", "Forgotten inventors", "What plants hear",
)  # fmt: skip
_ISRC_COUNTRIES = ("US", "GB", "SE", "DE", "FR", "IS", "JP", "NG", "BR", "KR")


@dataclass(frozen=True)
class CatalogAlbum:
    """An album and its tracks in running order."""

    ref: AlbumRef
    tracks: tuple[TrackRef, ...]


@dataclass(frozen=True)
class CatalogArtist:
    """An artist with its genres, albums and tracks (its hits first)."""

    ref: ArtistRef
    genres: tuple[str, ...]
    popularity: float
    albums: tuple[CatalogAlbum, ...]
    tracks: tuple[TrackRef, ...]


@dataclass(frozen=True)
class CatalogShow:
    """A podcast show and its episodes, oldest first."""

    ref: ShowRef
    episodes: tuple[TrackRef, ...]


@dataclass(frozen=True)
class Catalog:
    """A shared fake music world: the same artists, albums, tracks and shows for every user."""

    seed: int
    artists: tuple[CatalogArtist, ...]
    shows: tuple[CatalogShow, ...]
    genres: tuple[str, ...] = _GENRES

    @cached_property
    def albums(self) -> tuple[AlbumRef, ...]:
        """Every album, artist by artist."""
        return tuple(album.ref for artist in self.artists for album in artist.albums)

    @cached_property
    def tracks(self) -> tuple[TrackRef, ...]:
        """Every music track, artist by artist."""
        return tuple(track for artist in self.artists for track in artist.tracks)

    @cached_property
    def _genres_by_artist_id(self) -> Mapping[str, tuple[str, ...]]:
        return {artist.ref.id or "": artist.genres for artist in self.artists}

    def genres_of(self, artist_id: str) -> tuple[str, ...]:
        """The genres of the artist with this Spotify id (empty when unknown)."""
        return self._genres_by_artist_id.get(artist_id, ())


def spotify_id(rng: random.Random) -> str:
    """A Spotify-shaped id: 22 base62 characters."""
    return "".join(rng.choices(_BASE62, k=22))


def _image_url(rng: random.Random) -> str:
    return f"https://i.scdn.co/image/{rng.getrandbits(160):040x}"


def _artist_name(rng: random.Random) -> str:
    shape = rng.randrange(5)
    if shape == 0:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if shape == 1:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if shape == 2:
        return rng.choice(_FIRST_NAMES)
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while identity.normalize(candidate) in taken:
        candidate, n = f"{name} {n}", n + 1
    taken.add(identity.normalize(candidate))
    return candidate


def _fresh_name(rng: random.Random, taken: set[str]) -> str:
    """An artist name no one has yet; numbered only when the word lists run dry."""
    for _ in range(20):
        name = _artist_name(rng)
        if identity.normalize(name) not in taken:
            break
    return _unique(name, taken)


def _title(rng: random.Random) -> str:
    shape = rng.randrange(4)
    if shape == 0:
        return rng.choice(_NOUNS)
    if shape == 1:
        return f"{rng.choice(_NOUNS)} of {rng.choice(_NOUNS)}"
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"


def _artist_refs(rng: random.Random, count: int) -> list[ArtistRef]:
    taken: set[str] = set()
    names = [_unique(name, taken) for name in _UNICODE_ARTISTS[:count]]
    names += [_fresh_name(rng, taken) for _ in range(count - len(names))]
    rng.shuffle(names)
    return [ArtistRef(id=spotify_id(rng), name=name) for name in names]


def _duration_ms(rng: random.Random, genre: str) -> int:
    mean = 330_000 if genre in _LONG_GENRES else 160_000 if genre in _SHORT_GENRES else 215_000
    return int(min(420_000, max(90_000, rng.gauss(mean, 50_000))))


@dataclass
class _ArtistDraft:
    """What building one artist's discography needs to know."""

    ref: ArtistRef
    genres: tuple[str, ...]
    everyone: Sequence[ArtistRef]
    registrant: str
    titles: set[str] = field(default_factory=set)


def _track(rng: random.Random, draft: _ArtistDraft, album: AlbumRef, title: str) -> TrackRef:
    track_id = spotify_id(rng)
    artists = [draft.ref]
    if rng.random() < 0.1:
        featured = rng.choice(draft.everyone)
        if featured.id != draft.ref.id:
            artists.append(featured)
    year = (album.release_date or "2000")[2:4]
    explicit_rate = 0.5 if draft.genres[0] in _EXPLICIT_GENRES else 0.06
    return TrackRef(
        id=track_id,
        uri=f"spotify:track:{track_id}",
        name=title,
        duration_ms=_duration_ms(rng, draft.genres[0]),
        explicit=rng.random() < explicit_rate,
        isrc=f"{draft.registrant}{year}{rng.randrange(100_000):05d}",
        album=album,
        artists=artists,
    )


def _album(rng: random.Random, draft: _ArtistDraft, released: date) -> CatalogAlbum:
    size = rng.choice((1, 1, 2, 4, 6)) if rng.random() < 0.4 else rng.randint(8, 14)
    titles = [_unique(_title(rng), draft.titles) for _ in range(size)]
    if released.year < 1995 and rng.random() < 0.4:
        titles = [f"{title} - Remastered {rng.randint(2009, 2019)}" for title in titles]
    name = titles[0].split(" - ")[0] if size <= 2 else _title(rng)
    ref = AlbumRef(
        id=spotify_id(rng),
        name=name,
        release_date=released.isoformat(),
        image_url=_image_url(rng),
    )
    return CatalogAlbum(ref, tuple(_track(rng, draft, ref, title) for title in titles))


def _discography(rng: random.Random, draft: _ArtistDraft) -> list[CatalogAlbum]:
    year = rng.randint(1972, 2024)
    albums = []
    for _ in range(rng.randint(1, 5)):
        released = date(min(year, 2026), rng.randint(1, 12), rng.randint(1, 28))
        albums.append(_album(rng, draft, released))
        year += rng.randint(1, 4)
    return albums


def _catalog_artist(
    rng: random.Random, ref: ArtistRef, everyone: Sequence[ArtistRef], rank: int
) -> CatalogArtist:
    genre = rng.choices(_GENRES, weights=[1 / (i + 2) for i in range(len(_GENRES))])[0]
    genres = tuple(dict.fromkeys((genre, *rng.sample(_GENRES, rng.randint(0, 2)))))
    registrant = rng.choice(_ISRC_COUNTRIES) + "".join(rng.choices(string.ascii_uppercase, k=3))
    draft = _ArtistDraft(ref, genres, everyone, registrant)
    albums = _discography(rng, draft)
    tracks = [track for album in albums for track in album.tracks]
    rng.shuffle(tracks)
    return CatalogArtist(ref, genres, 1 / (rank + 1) ** 0.8, tuple(albums), tuple(tracks))


def episode(rng: random.Random, show: ShowRef, number: int) -> TrackRef:
    """Episode `number` of a podcast show."""
    episode_id = spotify_id(rng)
    return TrackRef(
        id=episode_id,
        uri=f"spotify:episode:{episode_id}",
        name=f"#{number}: {rng.choice(_TOPICS)}",
        duration_ms=rng.randint(18, 95) * 60_000 + rng.randrange(60_000),
        explicit=rng.random() < 0.2,
        show=show,
    )


def _catalog_show(rng: random.Random, name: str) -> CatalogShow:
    ref = ShowRef(id=spotify_id(rng), name=name)
    return CatalogShow(ref, tuple(episode(rng, ref, n) for n in range(1, 161)))


def build_catalog(seed: int = 0, artists: int = 400) -> Catalog:
    """The fake music world for a seed; every user of that seed shares it."""
    if artists < 1:
        raise ValueError(f"a catalog needs at least one artist, not {artists}")
    return catalog_for(seed, artists)


@lru_cache(maxsize=8)
def catalog_for(seed: int, artists: int) -> Catalog:
    """The catalog for a seed, built once per process."""
    rng = random.Random(f"catalog:{seed}")
    refs = _artist_refs(rng, artists)
    ranks = rng.sample(range(artists), artists)
    built = tuple(
        _catalog_artist(rng, ref, refs, rank) for ref, rank in zip(refs, ranks, strict=True)
    )
    shows = tuple(_catalog_show(rng, name) for name in _SHOWS)
    return Catalog(seed=seed, artists=built, shows=shows)
