"""The poller: each connected user's recently played → PlayEvents → the bus (DESIGN §8).

One round asks Spotify for every user's plays after their cursor, at most
WRAPPED_SPOTIFY_MAX_IN_FLIGHT users at a time, so a slow or rate-limited user never
holds up the others. Worker threads only talk to Spotify. The calling thread does
every database write: each time it is free it takes all the answers that have
arrived, so a busy round writes many users in one transaction.

- Plays go to the bus, and only once it has accepted them do the cursors move.
- A full page of 50 plays, all newer than the cursor, records a coverage gap.
- ``invalid_grant`` marks the user ``reauth_needed`` (polling stops) and records that
  one reconnect email is owed; delivery sends it (`delivery.reconnect`).
- A 429 longer than WRAPPED_SPOTIFY_MAX_WAIT skips the user until Spotify's time.
- Anything else that goes wrong for one user, expected or not, fails that user only:
  the reason is kept in their poll state and the others are polled and stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from weekly_wrapped.bus import Bus, acknowledged
from weekly_wrapped.bus.factory import open_bus
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import TerminalError, WrappedError
from weekly_wrapped.sources.spotify import state
from weekly_wrapped.sources.spotify.client import Clock, SpotifyClient, utcnow
from weekly_wrapped.sources.spotify.errors import (
    LOGIN_HINT,
    AccessTokenRejected,
    RateLimited,
    ReauthNeeded,
    TokenUnreadable,
)
from weekly_wrapped.sources.spotify.lapse import lapse
from weekly_wrapped.sources.spotify.oauth import refresh
from weekly_wrapped.sources.spotify.pages import PAGE, Page
from weekly_wrapped.sources.spotify.tokens import Token, cipher, load_tokens, save_token
from weekly_wrapped.warehouse.writer import WriteResult, write_quarantine

log = logging.getLogger(__name__)

T = TypeVar("T")
Status = Literal["ok", "rate_limited", "waiting", "reauth_needed", "not_connected", "failed"]


class PollFailed(TerminalError):
    """Polling one user failed in a way nobody planned for (a bug, or odd data)."""


def _as_error(exc: Exception) -> WrappedError:
    """`exc` as our error: itself when it is one, else a `PollFailed` that names it."""
    if isinstance(exc, WrappedError):
        return exc
    return PollFailed(f"unexpected {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class PollOutcome:
    """What polling one user did."""

    user_key: int
    status: Status
    plays: int = 0
    """Plays fetched since the previous poll and handed to the bus."""
    gap: bool = False
    message: str = ""
    retry_at: datetime | None = None


@dataclass
class PollReport:
    """One round: an outcome per user, and what was written of all their plays."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    stored: WriteResult = field(default_factory=WriteResult)


@dataclass
class _Fetched:
    """What a worker brings back from Spotify for one user."""

    target: state.PollTarget
    items: list[Any] = field(default_factory=list)
    refreshed: Token | None = None
    error: WrappedError | None = None


class Poller:
    """Polls users' recently played into the bus; one instance can run many rounds."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        client: SpotifyClient | None = None,
        bus: Bus | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.fernet = cipher(settings)
        self.client = client or SpotifyClient(settings, clock=clock)
        self.bus = bus or open_bus(engine, settings)
        self.clock = clock

    def poll(self, user_keys: Sequence[int] | None = None) -> PollReport:
        """One round over `user_keys`, or over every user who connected Spotify."""
        with self.engine.connect() as conn:
            targets = state.poll_targets(conn, user_keys)
            tokens = load_tokens(conn, self.fernet, (t.user_key for t in targets))
        report = PollReport()
        ready = []
        for target in targets:
            skipped = self._not_now(target)
            if skipped is None:
                ready.append(target)
            else:
                report.outcomes.append(skipped)
        workers = min(self.settings.spotify_max_in_flight, max(1, len(ready)))
        with ThreadPoolExecutor(workers, thread_name_prefix="poll") as pool:
            pending: set[Future[_Fetched]] = {
                pool.submit(self._fetch, t, tokens[t.user_key]) for t in ready
            }
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                self._record([future.result() for future in done], report)
        report.outcomes.sort(key=lambda o: o.user_key)
        return report

    def _not_now(self, target: state.PollTarget) -> PollOutcome | None:
        """Why a user is not polled this round, or None to poll them."""
        user, hint = target.user_key, LOGIN_HINT.format(user=target.user_key)
        if target.auth_status == "reauth_needed":
            return PollOutcome(user, "reauth_needed", message=f"Spotify login lapsed. {hint}")
        if not target.connected or target.auth_status != "ok":
            return PollOutcome(user, "not_connected", message=f"Not connected. {hint}")
        if target.not_before is not None and target.not_before > self.clock():
            when = f"{target.not_before:%Y-%m-%d %H:%M} UTC"
            message = f"Spotify asked us to wait until {when}"
            return PollOutcome(user, "waiting", message=message, retry_at=target.not_before)
        return None

    # --- in worker threads: Spotify only -------------------------------------------

    def _fetch(self, target: state.PollTarget, token: Token | TokenUnreadable) -> _Fetched:
        fetched = _Fetched(target)
        try:
            if isinstance(token, TokenUnreadable):
                raise token
            if token.needs_refresh(self.clock()):
                token = fetched.refreshed = refresh(self.client, token, self.clock())
            try:
                page = self._page(target, token)
            except AccessTokenRejected:
                token = fetched.refreshed = refresh(self.client, token, self.clock())
                page = self._page(target, token)
            items = page.get("items")
            fetched.items = items if isinstance(items, list) else []
        except WrappedError as exc:
            fetched.error = exc
        except Exception as exc:  # one user's surprise must not end the round
            log.debug("polling user %s", target.user_key, exc_info=True)
            fetched.error = _as_error(exc)
        return fetched

    def _page(self, target: state.PollTarget, token: Token) -> dict[str, Any]:
        after = None if target.cursor is None else int(target.cursor.timestamp() * 1000)
        return self.client.recently_played(token.access_token, after, limit=PAGE)

    # --- in the calling thread: the database ---------------------------------------

    def _record(self, answers: list[_Fetched], report: PollReport) -> None:
        """Store a batch of answers: tokens first, then plays, then cursors."""
        unsaved = self._keep_tokens(answers)
        pages = []
        for answer in answers:
            target = answer.target
            try:
                if target.user_key in unsaved:
                    report.outcomes.append(self._failed(target.user_key, unsaved[target.user_key]))
                elif answer.error is not None:
                    report.outcomes.append(self._failure(target, answer.error))
                else:
                    pages.append((Page.read(target.user_key, answer.items, target.cursor), target))
            except Exception as exc:
                report.outcomes.append(self._failed(target.user_key, exc))
        if pages:
            report.outcomes += self._store(pages, report)

    def _keep_tokens(self, answers: list[_Fetched]) -> dict[int, Exception]:
        """Save refreshed tokens, whatever happens next (Spotify may have rotated them).

        Returns the users whose token could not be saved, with the reason.
        """
        refreshed = [(a.target.user_key, a.refreshed) for a in answers if a.refreshed]

        def save(conn: Connection, user_key: int, token: Token) -> None:
            save_token(conn, self.fernet, user_key, token, self.clock())

        return self._write_each(refreshed, save)

    def _write_each(
        self, parts: list[tuple[int, T]], write: Callable[[Connection, int, T], None]
    ) -> dict[int, Exception]:
        """Write every user's part in one transaction, or, if that fails, each in its own.

        Returns the users whose part could not be written, with the reason.
        """
        try:
            with self.engine.begin() as conn:
                for user_key, part in parts:
                    write(conn, user_key, part)
            return {}
        except Exception as exc:
            if len(parts) == 1 or not _one_users_fault(exc):
                return {user_key: exc for user_key, _ in parts}
        failed: dict[int, Exception] = {}
        for user_key, part in parts:
            failed |= self._write_each([(user_key, part)], write)
        return failed

    def _failure(self, target: state.PollTarget, error: WrappedError) -> PollOutcome:
        if isinstance(error, ReauthNeeded):
            note = lapse(self.engine, target.user_key, error, self.clock())
            hint = LOGIN_HINT.format(user=target.user_key)
            message = f"{error}. Polling stops; {note}. {hint}"
            return PollOutcome(target.user_key, "reauth_needed", message=message)
        if isinstance(error, RateLimited):
            with self.engine.begin() as conn:
                state.set_backoff(conn, target.user_key, error.retry_at, str(error))
            log.warning("user %s: %s; skipped until then", target.user_key, error)
            message = f"{error}; skipped until then"
            return PollOutcome(
                target.user_key, "rate_limited", message=message, retry_at=error.retry_at
            )
        return self._failed(target.user_key, error)

    def _failed(self, user_key: int, exc: Exception, plays: int = 0) -> PollOutcome:
        """A failed poll: logged, and kept in the user's poll state without making them wait."""
        error = _as_error(exc)
        log.warning("user %s: %s", user_key, error)
        message = f"{error} ({error.hint})" if error.hint else str(error)
        try:
            with self.engine.begin() as conn:
                state.set_backoff(conn, user_key, self.clock(), message)
        except Exception as exc:  # the database itself failing: the outcome still says why
            log.warning("user %s: could not keep the failure: %s", user_key, exc)
        return PollOutcome(user_key, "failed", plays, message=message)

    def _store(
        self, pages: list[tuple[Page, state.PollTarget]], report: PollReport
    ) -> list[PollOutcome]:
        """Publish every page's plays at once; once the bus has them, move the cursors.

        If the bus refuses a batch for a reason that may be one user's, each user's
        plays are published alone, so the others still land.
        """
        events = [event for page, _ in pages for event in page.events]
        try:
            if events:
                ack = acknowledged(self.bus.publish(events), len(events))
                report.stored += ack.written or WriteResult(received=ack.accepted)
        except Exception as exc:
            if len(pages) > 1 and _one_users_fault(exc):
                return [outcome for page in pages for outcome in self._store([page], report)]
            return [self._refused(page, exc) for page, _ in pages]
        failed = self._write_each(
            [(page.user_key, (page, target)) for page, target in pages],
            lambda conn, _, part: self._advance(conn, *part),
        )
        return [
            self._failed(p.user_key, failed[p.user_key], len(p.events))
            if p.user_key in failed
            else PollOutcome(p.user_key, "ok", len(p.events), p.gap is not None, p.note())
            for p, _ in pages
        ]

    def _refused(self, page: Page, exc: Exception) -> PollOutcome:
        reason = _as_error(exc)
        message = f"the bus did not take the plays ({reason}); the next poll fetches them again"
        return self._failed(page.user_key, PollFailed(message), len(page.events))

    def _advance(self, conn: Connection, page: Page, target: state.PollTarget) -> None:
        now = self.clock()
        if page.gap is not None:
            gap = page.gap
            state.record_gap(conn, page.user_key, gap.start, gap.end, gap.reason, now)
        write_quarantine(conn, page.rejected, stage="poller")
        state.advance_cursor(conn, page.user_key, page.cursor, now)
        if target.not_before is not None:
            state.clear_backoff(conn, page.user_key)


def _one_users_fault(exc: Exception) -> bool:
    """Whether `exc` may be one user's own: not a busy or unreachable database, not a retry."""
    transient = isinstance(exc, WrappedError) and exc.transient
    return not transient and not isinstance(exc, OperationalError)


def poll(engine: Engine, settings: Settings, user_keys: Sequence[int] | None = None) -> PollReport:
    """One polling round with the configured client and bus."""
    poller = Poller(engine, settings)
    try:
        return poller.poll(user_keys)
    finally:
        poller.client.close()
