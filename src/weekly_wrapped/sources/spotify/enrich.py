"""Enrichment: name-only tracks and artists → Spotify ids; album art, release dates, genres.

Spotify removed the batch gets in February 2026, so this is one request per entity,
within a per-run request budget, most-played first. Each answer is merged in its own
transaction together with a `spotify_lookup` row, so nothing is ever fetched twice and
an interrupted run keeps what it learned. The order:

1. name-only keys an earlier search already resolved (no request);
2. search for name-only tracks (account-data imports);
3. get tracks known by id whose album or artists are known only by name (extended imports);
4. search for name-only artists still left;
5. get artists without genres or pictures, and albums without release dates or art.

Requests use one connected user's tokens. When those fail (a lapsed grant, a token the
key cannot open, anything unexpected), that user is named in the report with the
reason, and the run goes on with the next connected user's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Engine, select

from weekly_wrapped import identity
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.sources.spotify import backlog, merge, parse
from weekly_wrapped.sources.spotify.client import Clock, Json, SpotifyClient, utcnow
from weekly_wrapped.sources.spotify.errors import (
    AccessTokenRejected,
    NotConnected,
    NotFound,
    RateLimited,
    ReauthNeeded,
    SpotifyRefused,
    SpotifyUnavailable,
    TokenUnreadable,
)
from weekly_wrapped.sources.spotify.lapse import lapse
from weekly_wrapped.sources.spotify.oauth import refresh
from weekly_wrapped.sources.spotify.tokens import Token, cipher, load_tokens, save_token
from weekly_wrapped.warehouse.schema import dim_track, dim_user, oauth_token

log = logging.getLogger(__name__)

SEARCH_LIMIT = 10
"""Development mode returns at most 10 search results per type."""
_COUNT_CAP = 100_000


@dataclass
class EnrichReport:
    """What one run did, and what it left for the next."""

    requests: int = 0
    tracks_resolved: int = 0
    artists_resolved: int = 0
    reused: int = 0
    not_found: int = 0
    details_filled: int = 0
    left: int = 0
    stopped: str | None = None
    failed_users: dict[int, str] = field(default_factory=dict)
    """Users whose Spotify connection could not be used, with the reason."""


class _BudgetSpent(Exception):
    pass


class Enricher:
    """One enrichment run; see the module docstring for the order of work."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        user_key: int | None = None,
        budget: int | None = None,
        client: SpotifyClient | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.user_key = user_key
        self.budget = settings.spotify_enrich_budget if budget is None else budget
        self.client = client or SpotifyClient(settings, clock=clock)
        self.clock = clock
        self.report = EnrichReport()
        self._grant: tuple[int, Token] | None = None

    def run(self) -> EnrichReport:
        self._reuse_known_matches()
        try:
            for step in (
                self._resolve_tracks,
                self._fill_tracks,
                self._resolve_artists,
                self._fill_artists,
                self._fill_albums,
            ):
                step()
        except _BudgetSpent:
            pass
        except (RateLimited, SpotifyUnavailable, SpotifyRefused) as exc:
            self.report.stopped = str(exc)
            log.warning("enrichment stopped: %s", exc)
        except NotConnected as exc:
            if not self.report.failed_users:
                raise
            self.report.stopped = str(exc)  # every connection failed: the report says whose
        self.report.left = self._left()
        return self.report

    # --- the steps -------------------------------------------------------------------

    def _reuse_known_matches(self) -> None:
        with self.engine.begin() as conn:
            for old, new in backlog.known_matches(conn, "track", self.user_key):
                if conn.execute(
                    select(dim_track.c.track_key).where(dim_track.c.track_key == new)
                ).first():
                    merge.move_track(conn, old, new)
                    self.report.reused += 1
            for old, new in backlog.known_matches(conn, "artist", self.user_key):
                merge.move_artist(conn, old, new)
                self.report.reused += 1

    def _resolve_tracks(self) -> None:
        with self.engine.connect() as conn:
            named = backlog.named_tracks(conn, self.user_key, self._remaining())
        for track in named:
            query = f'track:"{_quoted(identity.normalize_title(track.name))}" '
            query += f'artist:"{_quoted(track.artist)}"'
            answer = self._call(
                partial(self.client.search, query=query, kind="track", limit=SEARCH_LIMIT)
            )
            found = parse.matching_track(answer, track.song_key)
            with self.engine.begin() as conn:
                merge.resolve_track(conn, track.track_key, found, self.clock())
            if found is None:
                self.report.not_found += 1
            else:
                self.report.tracks_resolved += 1

    def _fill_tracks(self) -> None:
        with self.engine.connect() as conn:
            ids = backlog.tracks_missing_details(conn, self.user_key, self._remaining())
        for spotify_id in ids:
            answer = self._get(partial(self.client.track, spotify_id=spotify_id))
            found = None if answer is None else parse.catalog_track(answer)
            with self.engine.begin() as conn:
                if found is not None:
                    merge.store_track(conn, found)
                merge.record_lookup(
                    conn, "track", spotify_id, spotify_id if found else None, self.clock()
                )
            self._count(found is not None)

    def _resolve_artists(self) -> None:
        with self.engine.connect() as conn:
            named = backlog.named_artists(conn, self.user_key, self._remaining())
        for key, name in named:
            query = f'artist:"{_quoted(name)}"'
            answer = self._call(
                partial(self.client.search, query=query, kind="artist", limit=SEARCH_LIMIT)
            )
            found = parse.matching_artist(answer, name)
            with self.engine.begin() as conn:
                merge.resolve_artist(conn, key, found, self.clock())
            if found is None:
                self.report.not_found += 1
            else:
                self.report.artists_resolved += 1

    def _fill_artists(self) -> None:
        with self.engine.connect() as conn:
            ids = backlog.artists_missing_details(conn, self.user_key, self._remaining())
        for spotify_id in ids:
            answer = self._get(partial(self.client.artist, spotify_id=spotify_id))
            found = None if answer is None else parse.artist_row(answer)
            with self.engine.begin() as conn:
                if found is not None:
                    merge.store_artist(conn, found)
                merge.record_lookup(
                    conn, "artist", spotify_id, spotify_id if found else None, self.clock()
                )
            self._count(found is not None)

    def _fill_albums(self) -> None:
        with self.engine.connect() as conn:
            ids = backlog.albums_missing_details(conn, self.user_key, self._remaining())
        for spotify_id in ids:
            answer = self._get(partial(self.client.album, spotify_id=spotify_id))
            found = None if answer is None else parse.album_object(answer)
            with self.engine.begin() as conn:
                if found is not None:
                    merge.store_album(conn, found)
                merge.record_lookup(
                    conn, "album", spotify_id, spotify_id if found else None, self.clock()
                )
            self._count(found is not None)

    # --- requests, budget and the token ----------------------------------------------

    def _remaining(self) -> int:
        return max(0, self.budget - self.report.requests)

    def _count(self, found: bool) -> None:
        if found:
            self.report.details_filled += 1
        else:
            self.report.not_found += 1

    def _get(self, request: Callable[[str], Json]) -> Json | None:
        """A single-entity get; None when Spotify no longer has the entity."""
        try:
            return self._call(request)
        except NotFound:
            return None

    def _call(self, request: Callable[[str], Json]) -> Json:
        if self._remaining() <= 0:
            raise _BudgetSpent
        self.report.requests += 1
        token = self._token()
        try:
            return request(token.access_token)
        except AccessTokenRejected:
            return request(self._token(force=True).access_token)

    def _token(self, force: bool = False) -> Token:
        """A usable access token, from the next connected user when one user's fails."""
        while True:
            if self._grant is None:
                self._grant = self._pick_grant()
            user_key, token = self._grant
            if not force and not token.needs_refresh(self.clock()):
                return token
            try:
                token = self._refreshed(user_key, token)
            except (RateLimited, SpotifyUnavailable, SpotifyRefused):
                raise  # Spotify's trouble, not this user's: the run stops
            except Exception as exc:
                self._drop_grant(user_key, exc)
                continue
            self._grant = (user_key, token)
            return token

    def _refreshed(self, user_key: int, token: Token) -> Token:
        try:
            token = refresh(self.client, token, self.clock())
        except ReauthNeeded as exc:
            note = lapse(self.engine, user_key, exc, self.clock())
            raise NotConnected(f"{exc}; {note}") from None
        with self.engine.begin() as conn:
            save_token(conn, cipher(self.settings), user_key, token, self.clock())
        return token

    def _drop_grant(self, user_key: int, exc: Exception) -> None:
        """Name the user whose connection failed, and let the next connected user's serve."""
        reason = (
            str(exc) if isinstance(exc, WrappedError) else f"unexpected {type(exc).__name__}: {exc}"
        )
        log.warning("user %s: %s; enrichment goes on without their connection", user_key, reason)
        self.report.failed_users[user_key] = reason
        self._grant = None

    def _pick_grant(self) -> tuple[int, Token]:
        """The tokens of `user_key`, or of any user whose Spotify connection is ok."""
        while True:
            user_key = self._next_connected()
            try:
                with self.engine.connect() as conn:
                    token = load_tokens(conn, cipher(self.settings), [user_key])[user_key]
                if isinstance(token, TokenUnreadable):
                    raise token
            except Exception as exc:
                self._drop_grant(user_key, exc)
                continue
            return user_key, token

    def _next_connected(self) -> int:
        """The first connected user not yet found failing in this run."""
        query = (
            select(oauth_token.c.user_key)
            .join(dim_user, dim_user.c.user_key == oauth_token.c.user_key)
            .where(
                dim_user.c.auth_status == "ok",
                oauth_token.c.user_key.not_in(list(self.report.failed_users)),
            )
            .order_by(oauth_token.c.user_key)
        )
        if self.user_key is not None:
            query = query.where(oauth_token.c.user_key == self.user_key)
        with self.engine.connect() as conn:
            user_key = conn.execute(query.limit(1)).scalar_one_or_none()
        if user_key is None:
            raise NotConnected(
                "enrichment needs a connected Spotify account, and there is none"
                + ("" if self.user_key is None else f" for user {self.user_key}")
                + ("" if not self.report.failed_users else " that works"),
                hint="Connect one with `wrapped login` first.",
            )
        return int(user_key)

    def _left(self) -> int:
        """Lookups still to make (some may resolve others for free)."""
        with self.engine.connect() as conn:
            return sum(
                len(find(conn, self.user_key, _COUNT_CAP))
                for find in (
                    backlog.named_tracks,
                    backlog.tracks_missing_details,
                    backlog.named_artists,
                    backlog.artists_missing_details,
                    backlog.albums_missing_details,
                )
            )


def _quoted(name: str) -> str:
    return name.replace('"', " ").strip()


def enrich(
    engine: Engine, settings: Settings, *, user_key: int | None = None, budget: int | None = None
) -> EnrichReport:
    """One enrichment run with the configured client."""
    enricher = Enricher(engine, settings, user_key=user_key, budget=budget)
    try:
        return enricher.run()
    finally:
        enricher.client.close()
