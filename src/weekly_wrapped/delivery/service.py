"""Send the weekly recap: to one user (`send_recap`) or to everyone who wants it (`send_week`).

These are the services the CLI, the scheduler and the web call. A user without an
email address, or who opted out, is skipped with the reason and the command that
changes it; so is a user whose week has not ended yet in their timezone. One run
writes every story with one writer, so its LLM token budget is the run's, not each
user's.

One user's failure, expected or not, is kept in the ledger with its reason and the
run goes on to the next user; only a mail setup that fails every email stops it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery import ledger
from weekly_wrapped.delivery.errors import MailerConfigError, NotDeliverable
from weekly_wrapped.delivery.handover import Transport
from weekly_wrapped.delivery.ledger import DeliveryKey
from weekly_wrapped.delivery.mailer import DeliveryOutcome, Result, deliver, skip_reason
from weekly_wrapped.delivery.recap_email import compose_recap
from weekly_wrapped.delivery.transports import open_transport
from weekly_wrapped.errors import UnknownUser, WrappedError
from weekly_wrapped.insights.recap import Recap, build_recap, load_recap
from weekly_wrapped.insights.writers import StoryWriter, writer_for
from weekly_wrapped.keys import secret_key
from weekly_wrapped.warehouse.users import User, get_user, list_users
from weekly_wrapped.weeks import week_label

log = logging.getLogger(__name__)

RECAP_CHANNEL = "recap"


@dataclass(frozen=True)
class UserResult:
    """What happened to one user's recap email."""

    user_key: int
    name: str
    result: Result
    detail: str | None


@dataclass(frozen=True)
class Undeliverable:
    """Why a user gets no recap email, and what would change it, if anything."""

    reason: str
    hint: str | None = None

    def __str__(self) -> str:
        return self.reason if self.hint is None else f"{self.reason}; {self.hint}"


@dataclass
class SendReport:
    """The outcome of sending one week to everyone."""

    week_start: date
    results: list[UserResult] = field(default_factory=list)

    def count(self, result: Result) -> int:
        """How many users ended with `result`."""
        return Counter(r.result for r in self.results)[result]

    @property
    def failed(self) -> list[UserResult]:
        """The users whose email failed, in the order they were tried."""
        return [r for r in self.results if r.result == "failed"]


def send_recap(
    engine: Engine,
    settings: Settings,
    user_key: int,
    week_start: date,
    resend: bool = False,
    *,
    transport: Transport | None = None,
    key: bytes | None = None,
    writer: StoryWriter | None = None,
) -> DeliveryOutcome:
    """Email one user's recap of the week, once; raises `NotDeliverable` when they get none.

    `writer` writes the story if the recap must be built first (default: `WRAPPED_WRITER`'s).
    """
    with engine.connect() as conn:
        user = get_user(conn, user_key)
    problem = why_not(user, week_start)
    if problem is not None:
        raise NotDeliverable(
            f"no recap email for user {user_key} ({user.display_name}): {problem.reason}",
            hint=problem.hint,
        )
    assert user.email is not None  # noqa: S101 - why_not checked it
    recap = current_recap(engine, settings, user, week_start, writer)
    message = compose_recap(
        settings,
        key or secret_key(settings),
        user_key=user_key,
        name=user.display_name,
        email=user.email,
        stats=recap.stats,
        story=recap.story,
        writer=recap.writer,
    )
    return deliver(
        engine, settings, user_key, week_start, RECAP_CHANNEL, message,
        resend=resend, transport=transport,
    )  # fmt: skip


def send_week(
    engine: Engine,
    settings: Settings,
    week_start: date,
    resend: bool = False,
    *,
    on_result: Callable[[UserResult], None] | None = None,
) -> SendReport:
    """Email the week's recap to every user who wants it; a bad SMTP setup stops the run.

    Any other failure is recorded against its user, and the run goes on.

    Recaps built on the way share one writer, and so one `WRAPPED_WRITER_TOKEN_BUDGET`.
    """
    report = SendReport(week_start)
    run = _Run(open_transport(settings), secret_key(settings), writer_for(settings))
    with engine.connect() as conn:
        people = list_users(conn)
    for user in people:
        result = _send_one(engine, settings, user, week_start, resend, run)
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return report


def send_due(
    engine: Engine,
    settings: Settings,
    due: Iterable[tuple[int, date]],
    *,
    on_result: Callable[[UserResult], None] | None = None,
) -> list[UserResult]:
    """Email each (user, week start) in `due` its recap, once: the scheduler's Monday run.

    Unlike `send_week`, each user may have their own week (their timezone decides).
    A user who no longer exists is skipped; other failures are kept as in `send_week`.
    """
    run = _Run(open_transport(settings), secret_key(settings), writer_for(settings))
    results: list[UserResult] = []
    for user_key, week_start in due:
        try:
            with engine.connect() as conn:
                user = get_user(conn, user_key)
        except UnknownUser:
            continue
        result = _send_one(engine, settings, user, week_start, False, run)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def why_not(user: User, week_start: date, now: datetime | None = None) -> Undeliverable | None:
    """Why `user` gets no recap email for the week, or None when they do."""
    update = f"wrapped users update --user {user.user_key}"
    if not user.email:
        return Undeliverable(
            "no email address on record", f"add one with `{update} --email ADDRESS`"
        )
    if not user.weekly_email:
        return Undeliverable(
            "opted out of the weekly email", f"if they want it again: `{update} --weekly-email`"
        )
    if (now or datetime.now(UTC)) < week_end(user, week_start):
        return Undeliverable(f"{week_label(week_start)} has not ended yet in {user.timezone}")
    return None


def week_end(user: User, week_start: date) -> datetime:
    """The moment the week ends for `user`: the next Monday, 00:00 in their timezone."""
    return datetime.combine(week_start + timedelta(days=7), time(), ZoneInfo(user.timezone))


def current_recap(
    engine: Engine,
    settings: Settings,
    user: User,
    week_start: date,
    writer: StoryWriter | None = None,
) -> Recap:
    """The stored recap of the week, built again if it is missing or from before the week ended."""
    with engine.connect() as conn:
        stored = load_recap(conn, user.user_key, week_start)
    if stored is not None and stored.created_at >= week_end(user, week_start):
        return stored
    return build_recap(engine, user.user_key, week_start, writer or writer_for(settings))


@dataclass(frozen=True)
class _Run:
    """What every email of one `send_week` run shares."""

    transport: Transport
    key: bytes
    writer: StoryWriter


def _send_one(
    engine: Engine, settings: Settings, user: User, week_start: date, resend: bool, run: _Run
) -> UserResult:
    """One user's email; whatever goes wrong is theirs alone, kept in the ledger."""
    try:
        return _try_one(engine, settings, user, week_start, resend, run)
    except MailerConfigError:
        raise
    except WrappedError as exc:
        reason = str(exc)
    except Exception as exc:  # a bug or bad data in one user's week must not stop the rest
        reason = f"unexpected {type(exc).__name__}: {exc}"
        log.warning("recap email of user %s: %s", user.user_key, reason)
        log.debug("recap email of user %s", user.user_key, exc_info=True)
    _keep_failure(engine, user.user_key, week_start, reason)
    return UserResult(user.user_key, user.display_name, "failed", reason)


def _try_one(
    engine: Engine, settings: Settings, user: User, week_start: date, resend: bool, run: _Run
) -> UserResult:
    skipped = _skip_detail(engine, user, week_start, resend)
    if skipped is not None:
        return UserResult(user.user_key, user.display_name, "skipped", skipped)
    outcome = send_recap(
        engine, settings, user.user_key, week_start, resend,
        transport=run.transport, key=run.key, writer=run.writer,
    )  # fmt: skip
    return UserResult(user.user_key, user.display_name, outcome.result, outcome.detail)


def _keep_failure(engine: Engine, user_key: int, week_start: date, reason: str) -> None:
    try:
        with engine.begin() as conn:
            ledger.note_failure(conn, DeliveryKey(user_key, week_start, RECAP_CHANNEL), reason)
    except Exception as exc:  # the database itself failing: the report still names the user
        log.warning("could not record the failed recap email of user %s: %s", user_key, exc)


def _skip_detail(engine: Engine, user: User, week_start: date, resend: bool) -> str | None:
    problem = why_not(user, week_start)
    if problem is not None:
        return str(problem)
    return None if resend else _already(engine, user, week_start)


def _already(engine: Engine, user: User, week_start: date) -> str | None:
    # Saves rendering an email that the ledger would refuse anyway.
    with engine.connect() as conn:
        record = ledger.read(conn, DeliveryKey(user.user_key, week_start, RECAP_CHANNEL))
    return skip_reason(record) if record is not None else None
