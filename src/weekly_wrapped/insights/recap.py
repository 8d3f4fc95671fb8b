"""The weekly recap: a week's stats, its story, and the `recap` row that keeps both.

`build_recap` is the one service the CLI, the scheduler and the web all call: it
computes the stats, asks a writer for the story and upserts the row, so building
the same week again replaces it. `render_html` turns a recap into a standalone page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import Connection, Engine, select

from weekly_wrapped.errors import WrappedError
from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.grounding import check_story
from weekly_wrapped.insights.history import History, load_history
from weekly_wrapped.insights.models import ListeningStats, Story
from weekly_wrapped.insights.recommend import PickContext
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.insights.writers import LlmWriter, OfflineWriter, StoryWriter
from weekly_wrapped.insights.writers.llm import Written, fallback_record
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import recap as recap_table
from weekly_wrapped.warehouse.upsert import upsert
from weekly_wrapped.warehouse.users import User, get_user
from weekly_wrapped.weeks import last_complete_week, week_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recap:
    """One user's week: the numbers, the story, and who wrote it."""

    user: User
    week_start: date
    stats: ListeningStats
    story: Story
    writer: str
    model: str | None
    created_at: datetime
    attempts: int = 1
    """Drafts the chosen writer was asked for; an LLM gets one retry."""
    grounding: dict[str, Any] | None = None
    """The grounding check's result, and why an LLM's story fell back, if it did."""

    @property
    def week(self) -> str:
        """The ISO week, e.g. ``2026-W47``."""
        return week_label(self.week_start)

    def to_json(self) -> dict[str, Any]:
        """What `wrapped recap --format json` prints: week, user, writer, stats and story."""
        return {
            "week": self.week,
            "user": {"id": self.user.user_key, "name": self.user.display_name,
                     "timezone": self.user.timezone},
            "writer": {"name": self.writer, "model": self.model, "attempts": self.attempts,
                       "grounding": self.grounding},
            "stats": self.stats.model_dump(mode="json"),
            "story": self.story.model_dump(mode="json"),
        }  # fmt: skip


def build_recap(
    bind: Engine | Connection,
    user_key: int,
    week_start: date | None,
    writer: StoryWriter,
    *,
    now: datetime | None = None,
) -> Recap:
    """Compute, write and store one user's recap; the default week is the last complete one.

    With an `Engine` it runs in its own transaction; with a `Connection`, in the caller's.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return build_recap(conn, user_key, week_start, writer, now=now)
    user = get_user(bind, user_key)
    start = week_start or last_complete_week(user.timezone, now)
    stats = weekly_stats(bind, user_key, start, now=now)
    history = load_history(bind, user_key, start, [a.name for a in stats.top_artists])
    written = write_story(writer, stats, history, PickContext(bind, user_key, start))
    recap = Recap(
        user=user,
        week_start=start,
        stats=stats,
        story=written.story,
        writer=written.writer,
        model=written.model,
        created_at=now or datetime.now(UTC),
        attempts=written.attempts,
        grounding=written.grounding_record(),
    )
    save_recap(bind, recap)
    return recap


def write_story(
    writer: StoryWriter,
    stats: ListeningStats,
    history: History,
    context: PickContext | None = None,
) -> Written:
    """The story and who wrote it; a failing writer falls back to the offline one.

    An LLM writer checks its own story and vets its picks against `context`; any
    other writer's story is checked here, so every recap records a grounding result.
    """
    try:
        if isinstance(writer, LlmWriter):
            return writer.write_grounded(stats, history, context)
        story = writer.write(stats, history)
        return Written(story, writer.name, writer.model, 1, check_story(story, stats, history))
    except WrappedError as exc:
        if isinstance(writer, OfflineWriter):
            raise
        # DESIGN §7: a writer failure never blocks a recap.
        log.warning("the %s writer failed (%s); the offline writer wrote the story",
                    writer.name, exc)  # fmt: skip
        story = OfflineWriter().write(stats, history)
        return Written(
            story, "offline", None, getattr(exc, "attempts", 1),
            check_story(story, stats, history), fallback_record(writer.name, writer.model, exc),
        )  # fmt: skip


def save_recap(conn: Connection, recap: Recap) -> None:
    """Insert the recap row, or replace the one already there for this user and week."""
    values = {
        "user_key": recap.user.user_key,
        "week_start": recap.week_start,
        "stats": recap.stats.model_dump(mode="json"),
        "story": recap.story.model_dump(mode="json"),
        "writer": recap.writer,
        "model": recap.model,
        "created_at": recap.created_at,
        "attempts": recap.attempts,
        "grounding": recap.grounding,
    }
    upsert(conn, recap_table, values, keys=("user_key", "week_start"))


def recap_built_at(conn: Connection, user_key: int, week_start: date) -> datetime | None:
    """When the stored recap of one user's week was built, or None when it was not."""
    built = conn.execute(
        select(recap_table.c.created_at).where(
            recap_table.c.user_key == user_key, recap_table.c.week_start == week_start
        )
    ).scalar_one_or_none()
    return None if built is None else as_utc(built)


def load_recap(
    conn: Connection, user_key: int, week_start: date, user: User | None = None
) -> Recap | None:
    """The stored recap of one user's week, if it has been built; `user` saves reading them."""
    row = conn.execute(
        select(recap_table).where(
            recap_table.c.user_key == user_key, recap_table.c.week_start == week_start
        )
    ).one_or_none()
    if row is None:
        return None
    return Recap(
        user=user if user is not None and user.user_key == user_key else get_user(conn, user_key),
        week_start=row.week_start,
        stats=ListeningStats.model_validate(row.stats),
        story=Story.model_validate(row.story),
        writer=row.writer,
        model=row.model,
        created_at=as_utc(row.created_at),
        attempts=row.attempts,
        grounding=row.grounding,
    )


def html_path(data_dir: Path, recap: Recap) -> Path:
    """Where a recap page goes by default: ``<data dir>/recaps/recap-<user>-<week>.html``."""
    return data_dir / "recaps" / f"recap-{recap.user.user_key}-{recap.week}.html"


_templates = Environment(
    loader=PackageLoader("weekly_wrapped", "insights/templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(minutes=fmt.minutes, count=fmt.count, clock=fmt.clock)


def render_html(recap: Recap) -> str:
    """A standalone page: inline CSS, no external assets, light and dark."""
    week_end = recap.week_start + timedelta(days=6)
    return _templates.get_template("recap.html").render(
        recap=recap,
        stats=recap.stats,
        story=recap.story,
        dates=f"{recap.week_start.day} {recap.week_start:%b} – {week_end.day} {week_end:%b %Y}",
        days=fmt.DAY_NAMES,
    )


def write_html(recap: Recap, path: Path) -> Path:
    """Write the recap page to `path`, creating its folder; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(recap), encoding="utf-8")
    return path
