"""The listeners the web and Monday benchmarks share: N users with weeks of plays, in PostgreSQL.

Loading 10M plays through the pipeline would take hours, so `--templates` users get
their synthetic listening the ordinary way (generated, processed and written through
the bus), and every other user gets a copy of one template's plays, made by one
`INSERT ... SELECT` inside PostgreSQL with new play ids. The fact table's indexes are
dropped for the copy and built again after it, which is several times faster than
keeping them up to date row by row.

The loaded database is kept under its name and reused while it holds the same users,
weeks and plays, and its weeks still end where they did (a load from an earlier week
is loaded again). Only the ledger and the stored recaps are cleared between runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, delete, func, select, text, update

from weekly_wrapped import pipeline
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.schema import delivery, dim_user, fact_play, recap
from weekly_wrapped.warehouse.users import add_user
from weekly_wrapped.weeks import last_complete_week

TZ = "Europe/Berlin"
MARK = "bench_listeners"
"""A one-row table that says what was loaded, so a later run can reuse it."""


@dataclass(frozen=True)
class Listeners:
    """A loaded database: its settings, engine, users and plays."""

    settings: Settings
    engine: Engine
    users: list[int]
    plays: int
    reused: bool
    load_s: float


def listeners(
    admin_url: str, name: str, data_dir: Path, *, users: int, weeks: int, templates: int = 10
) -> Listeners:
    """The database `name` with `users` users and `weeks` weeks each, loaded now or reused."""
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    began = time.perf_counter()
    week = last_complete_week(TZ)
    reused = _matches(admin_url, name, users, weeks, week)
    if not reused:
        _load(admin_url, name, data_dir, users, weeks, min(templates, users), week)
    settings = load_settings(data_dir=data_dir, database_url=url,
                             secret_key=Fernet.generate_key().decode())  # fmt: skip
    engine = db.connect(settings.db_url)
    with engine.begin() as conn:
        conn.execute(delete(delivery))
        conn.execute(delete(recap))
        conn.execute(update(dim_user).values(weekly_email=True))
        keys = list(conn.execute(select(dim_user.c.user_key).order_by("user_key")).scalars())
        plays = int(conn.execute(select(func.count()).select_from(fact_play)).scalar_one())
    return Listeners(settings, engine, keys, plays, reused, time.perf_counter() - began)


def _admin(admin_url: str) -> Engine:
    return create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def _matches(admin_url: str, name: str, users: int, weeks: int, week: date) -> bool:
    admin = _admin(admin_url)
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        exists = found.first() is not None
    admin.dispose()
    if not exists:
        return False
    engine = db.connect(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT users, weeks, week_start, plays FROM {MARK}")).first()
            if row is None or tuple(row[:3]) != (users, weeks, week):
                return False
            count = conn.execute(select(func.count()).select_from(fact_play)).scalar_one()
            return bool(count == row.plays)
    except Exception:  # no mark table: a load that never finished
        return False
    finally:
        engine.dispose()


def _load(
    admin_url: str, name: str, data_dir: Path, users: int, weeks: int, templates: int, week: date
) -> None:
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    settings = load_settings(data_dir=data_dir, database_url=admin_url.rsplit("/", 1)[0] + f"/{name}",
                             secret_key=Fernet.generate_key().decode())  # fmt: skip
    engine = db.connect(settings.db_url)
    db.upgrade(engine)
    keys = []
    with engine.begin() as conn:
        for n in range(users):
            keys.append(add_user(conn, name=f"Listener {n}", email=f"l{n}@example.com",
                                 timezone=TZ))  # fmt: skip
        conn.execute(update(dim_user).values(created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    began = time.perf_counter()
    for n, user in enumerate(keys[:templates]):
        pipeline.generate(engine, settings, user, weeks=weeks, seed=n)
    print(f"load: {templates} template users generated in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    _copy_templates(engine, keys, templates)
    print(
        f"load: {len(keys) - templates} users copied in SQL in {time.perf_counter() - began:.0f} s"
    )
    with engine.begin() as conn:
        plays = conn.execute(select(func.count()).select_from(fact_play)).scalar_one()
        conn.execute(
            text(f"CREATE TABLE {MARK} (users int, weeks int, week_start date, plays bigint)")
        )
        conn.execute(text(f"INSERT INTO {MARK} VALUES (:u, :w, :s, :p)"),
                     {"u": users, "w": weeks, "s": week, "p": plays})  # fmt: skip
    engine.dispose()


def _copy_templates(engine: Engine, keys: list[int], templates: int) -> None:
    """Give every user past the templates a copy of one template's plays, under new ids."""
    columns = [c.name for c in fact_play.columns]
    picked = ", ".join(
        "substr(md5(p.play_id || '/' || c.user_key), 1, 32)" if name == "play_id"
        else "c.user_key" if name == "user_key" else f"p.{name}"
        for name in columns
    )  # fmt: skip
    with engine.begin() as conn:
        for index in fact_play.indexes:
            index.drop(conn)
        conn.execute(text("CREATE TEMP TABLE copy_of (user_key int, template int)"))
        conn.execute(text("INSERT INTO copy_of VALUES (:u, :t)"),
                     [{"u": user, "t": keys[n % templates]}
                      for n, user in enumerate(keys) if n >= templates])  # fmt: skip
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(text(
            f"INSERT INTO fact_play ({', '.join(columns)}) SELECT {picked} "
            "FROM copy_of c JOIN fact_play p ON p.user_key = c.template"
        ))  # fmt: skip
        for index in fact_play.indexes:
            index.create(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE fact_play"))
