"""Vetting an LLM's picks: never a song already heard, and only real tracks when Spotify can say.

An LLM suggests songs by name. Before a pick reaches a recap:

- a song the user has played before the week ended (matched by song key, so any
  spelling Spotify or an export used counts) is dropped, as is a repeated pick;
- with the user's Spotify token, each pick is looked up through search: a match is
  kept with its link and marked verified, a miss is dropped (the model made it up);
- without a token, or when Spotify cannot answer, picks stay, marked unverified.

`TrackResolver` is the small interface the lookup needs; `SpotifyTrackResolver`
implements it with the app's Spotify client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, select

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import TransientError, WrappedError
from weekly_wrapped.identity import normalize, normalize_title, song_key
from weekly_wrapped.insights.models import Recommendation
from weekly_wrapped.warehouse.schema import fact_play
from weekly_wrapped.weeks import week_date_keys

log = logging.getLogger(__name__)

MAX_PICKS = 5
SEARCH_RESULTS = 5
TRACK_URL = "https://open.spotify.com/track/{}"


@dataclass(frozen=True)
class PickContext:
    """Whose picks these are: the user and the week, and where to read what they have heard.

    `conn` reads the warehouse; `known_songs` adds song keys known without one (the
    quality set uses it). Without `conn` there is no token either, so no lookups.
    """

    conn: Connection | None
    user_key: int
    week_start: date
    known_songs: frozenset[str] = frozenset()

    def heard(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` the user has played, up to the end of the week."""
        wanted = set(keys)
        found = wanted & self.known_songs
        if self.conn is not None:
            found |= heard_songs(self.conn, self.user_key, self.week_start, wanted)
        return found


@dataclass(frozen=True)
class ResolvedTrack:
    """A track Spotify has, as Spotify names it."""

    artist: str
    track: str
    spotify_url: str


class TrackResolver(Protocol):
    """Finds a track by artist and title, or says it does not exist."""

    def resolve(self, artist: str, track: str) -> ResolvedTrack | None:
        """The matching track; raises a `TransientError` when the lookup itself failed."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


ResolverFactory = Callable[[PickContext], TrackResolver | None]
"""Makes the resolver for one user's picks, or None when the user has no token."""


def vet_picks(
    context: PickContext, picks: list[Recommendation], resolver: TrackResolver | None
) -> list[Recommendation]:
    """Up to five picks the user has not heard; verified and linked when `resolver` finds them."""
    fresh = _unheard(context, picks)
    if resolver is None:
        return [_unverified(p) for p in fresh][:MAX_PICKS]
    return _resolved(context, fresh, resolver)[:MAX_PICKS]


def heard_songs(conn: Connection, user_key: int, week_start: date, keys: Iterable[str]) -> set[str]:
    """Which song keys the user has played, any play at all, up to the end of the week."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    _, week_end = week_date_keys(week_start)
    query = (
        select(fact_play.c.song_key)
        .distinct()
        .where(
            fact_play.c.user_key == user_key,
            fact_play.c.song_key.in_(wanted),
            fact_play.c.local_date_key < week_end,
        )
    )
    return set(conn.execute(query).scalars())


def _unheard(context: PickContext, picks: list[Recommendation]) -> list[Recommendation]:
    keys = [song_key(p.artist, p.track) for p in picks]
    heard = context.heard(keys)
    kept: list[Recommendation] = []
    seen: set[str] = set()
    for pick, key in zip(picks, keys, strict=True):
        if key in heard or key in seen:
            log.info("dropped pick %r by %r: already heard or repeated", pick.track, pick.artist)
            continue
        seen.add(key)
        kept.append(pick)
    return kept


def _unverified(pick: Recommendation) -> Recommendation:
    return pick.model_copy(update={"verified": False, "spotify_url": None})


def _resolved(
    context: PickContext, picks: list[Recommendation], resolver: TrackResolver
) -> list[Recommendation]:
    found: list[Recommendation] = []
    for index, pick in enumerate(picks):
        try:
            match = resolver.resolve(pick.artist, pick.track)
        except TransientError as exc:
            log.warning("Spotify search failed (%s); the remaining picks stay unverified", exc)
            found += [_unverified(p) for p in picks[index:]]
            break
        if match is None:
            log.info("dropped pick %r by %r: not found on Spotify", pick.track, pick.artist)
            continue
        found.append(pick.model_copy(update={"artist": match.artist, "track": match.track,
                                             "spotify_url": match.spotify_url, "verified": True}))  # fmt: skip
    # Spotify's spelling may differ from the model's, so check the heard songs again.
    return _unheard(context, found)


# --- Spotify ------------------------------------------------------------------------------


class SpotifyTrackResolver:
    """Looks picks up through Spotify search with one user's access token."""

    def __init__(self, client: Any, access_token: str) -> None:
        self._client = client
        self._token = access_token

    def resolve(self, artist: str, track: str) -> ResolvedTrack | None:
        query = f'track:"{_unquoted(track)}" artist:"{_unquoted(artist)}"'
        answer = self._client.search(self._token, query, "track", limit=SEARCH_RESULTS)
        items = (answer.get("tracks") or {}).get("items") or []
        return next((found for item in items if (found := _match(item, artist, track))), None)

    def close(self) -> None:
        self._client.close()


def _unquoted(name: str) -> str:
    return name.replace('"', " ").strip()


def _match(item: Any, artist: str, track: str) -> ResolvedTrack | None:
    """The search result as a `ResolvedTrack` when it is the song asked for."""
    if not isinstance(item, dict) or not item.get("name") or not item.get("id"):
        return None
    artists = [
        a["name"] for a in item.get("artists") or [] if isinstance(a, dict) and a.get("name")
    ]
    if normalize_title(item["name"]) != normalize_title(track):
        return None
    if normalize(artist) not in {normalize(a) for a in artists}:
        return None
    url = (item.get("external_urls") or {}).get("spotify") or TRACK_URL.format(item["id"])
    return ResolvedTrack(artist=artists[0], track=item["name"], spotify_url=url)


def spotify_resolvers(settings: Settings) -> ResolverFactory:
    """A factory of Spotify resolvers for users with a working token; None for the rest."""

    def make(context: PickContext) -> TrackResolver | None:
        try:
            return _spotify_resolver(settings, context)
        except WrappedError as exc:
            log.info("user %s: picks stay unverified: %s", context.user_key, exc)
            return None

    return make


def _spotify_resolver(settings: Settings, context: PickContext) -> TrackResolver | None:
    # Imported here: the Spotify stack is only needed once an LLM has picks to check.
    from weekly_wrapped.keys import has_key
    from weekly_wrapped.sources.spotify.client import SpotifyClient
    from weekly_wrapped.sources.spotify.oauth import refresh
    from weekly_wrapped.sources.spotify.tokens import Token, cipher, load_tokens, save_token
    from weekly_wrapped.warehouse.users import get_user

    conn = context.conn
    # A token is stored encrypted under the key (WRAPPED_SECRET_KEY, else the kept key file):
    # without one there is no token to read, and no key is made just to find that out.
    if conn is None or not has_key(settings):
        return None
    if get_user(conn, context.user_key).auth_status != "ok":
        return None
    fernet = cipher(settings)
    token = load_tokens(conn, fernet, [context.user_key]).get(context.user_key)
    if not isinstance(token, Token):
        return None
    client = SpotifyClient(settings)
    now = datetime.now(UTC)
    if token.needs_refresh(now):
        try:
            token = refresh(client, token, now)
        except WrappedError:
            client.close()
            raise
        save_token(conn, fernet, context.user_key, token, now)
    return SpotifyTrackResolver(client, token.access_token)
