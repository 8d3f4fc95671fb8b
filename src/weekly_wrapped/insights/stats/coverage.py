"""Whether the warehouse may be missing plays in a period, and where.

Three kinds of gap, each clipped to the period:

- a `coverage_gap` row written by the poller (for example, more new plays than
  the 50 that recently-played returns);
- the period has not ended yet, so plays are still to come;
- the user is polled, but the last poll came before the period ended, so the
  plays after it have not been fetched (a lapsed login stops polling).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from weekly_wrapped.insights.models import Coverage, Gap
from weekly_wrapped.insights.stats.period import END_UTC, START_UTC, USER, Period
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import coverage_gap, ingest_cursor

POLLED_SOURCE = "api"
"""The `ingest_cursor.source` of the Spotify poller."""


def read_coverage(conn: Connection, period: Period, now: datetime | None = None) -> Coverage:
    """Every known gap in the period, oldest first; complete when there is none."""
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    start, end = period.start_utc, period.end_utc
    gaps = [*_recorded_gaps(conn, period), *_unpolled(conn, period, now)]
    if now < end:
        gaps.append(Gap(start=max(now, start), end=end, reason="the period is not over yet"))
    gaps.sort(key=lambda gap: (gap.start, gap.end))
    return Coverage(complete=not gaps, gaps=gaps)


_RECORDED = (
    select(coverage_gap.c.start_utc, coverage_gap.c.end_utc, coverage_gap.c.reason)
    .where(
        coverage_gap.c.user_key == USER,
        coverage_gap.c.start_utc < END_UTC,
        coverage_gap.c.end_utc > START_UTC,
    )
    .order_by(coverage_gap.c.start_utc)
)

_LAST_POLL = select(ingest_cursor.c.updated_at).where(
    ingest_cursor.c.user_key == USER, ingest_cursor.c.source == POLLED_SOURCE
)


def _recorded_gaps(conn: Connection, period: Period) -> list[Gap]:
    start, end = period.start_utc, period.end_utc
    return [
        Gap(start=max(as_utc(r.start_utc), start), end=min(as_utc(r.end_utc), end), reason=r.reason)
        for r in conn.execute(_RECORDED, period.params())
    ]


def _unpolled(conn: Connection, period: Period, now: datetime) -> list[Gap]:
    last_poll = conn.execute(_LAST_POLL, period.params()).scalar_one_or_none()
    if last_poll is None:
        return []
    polled = as_utc(last_poll)
    start, until = max(polled, period.start_utc), min(now, period.end_utc)
    if start >= until:
        return []
    reason = f"Spotify has not been polled since {polled:%Y-%m-%d %H:%M} UTC"
    return [Gap(start=start, end=until, reason=reason)]
