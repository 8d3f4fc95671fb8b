"""Weekly stats (DESIGN §6): every number of a week, or of any range of days, computed in SQL.

`weekly_stats` gives one ISO week in the user's timezone with the weeks before it;
`range_stats` gives the same definitions over any range (a month, a year, all
time). Both run the same SQLAlchemy Core queries on SQLite and PostgreSQL, and
only small aggregates (top lists, the 7 × 24 grid, per-day keys) leave the
database. `docs/stats.md` defines every field.
"""

from weekly_wrapped.insights.stats.compute import (
    InvalidPeriod,
    diversity,
    first_listening_day,
    range_stats,
    weekly_stats,
)

__all__ = ["InvalidPeriod", "diversity", "first_listening_day", "range_stats", "weekly_stats"]
