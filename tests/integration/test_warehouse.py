"""The warehouse on both backends: schema, bulk idempotent writes, quarantine, users."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from tests.factories import episode, play
from tests.factories import snapshot as rows_of
from weekly_wrapped.errors import UnknownUser
from weekly_wrapped.events import AlbumRef, PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.rows import Rejected
from weekly_wrapped.warehouse import db, users
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_date,
    dim_track,
    fact_play,
    metadata,
    quarantine,
)
from weekly_wrapped.warehouse.users import InvalidUser
from weekly_wrapped.warehouse.writer import write_quarantine

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
WAREHOUSE = (dim_date, dim_album, dim_artist, dim_track, bridge_track_artist, fact_play)


def add_user(engine: Engine, timezone: str = "Europe/Berlin") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name="Ada", email="ada@example.com", timezone=timezone)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every warehouse row, comparable across runs and backends."""
    return rows_of(engine, WAREHOUSE)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_quarantine_keeps_each_bad_row_once_and_long_ones_cut(engine: Engine) -> None:
    user = add_user(engine)
    huge = '{"name": "' + "夜" * (40 << 10) + '"}'
    batch = [
        Rejected("no ts", '{"ts": null}', user),
        Rejected("no ts", '{"ts": null}', user + 1),
        Rejected("not json", "{not json"),
        Rejected("too long", huge, user),
    ]
    for _ in range(3):
        with engine.begin() as conn:
            write_quarantine(conn, batch, stage="import")
            write_quarantine(conn, batch[2:3], stage="processor")
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine).order_by(quarantine.c.quarantine_id)).all()
    assert [(q.stage, q.reason, q.user_key) for q in kept] == [
        ("import", "no ts", user),
        ("import", "no ts", user + 1),
        ("import", "not json", None),
        ("import", "too long", user),
        ("processor", "not json", None),
    ]
    whole = huge.encode()
    cut = kept[3]
    assert (cut.payload_bytes, cut.payload_sha256) == (len(whole), sha256(whole).hexdigest())
    assert len(cut.payload.encode()) <= 64 << 10 and huge.startswith(cut.payload)
    assert kept[0].payload == '{"ts": null}' and kept[0].payload_bytes == 12


def test_the_migration_collapses_repeated_quarantine_rows_and_cuts_long_ones(
    engine: Engine,
) -> None:
    config = db._alembic_config(engine)
    command.downgrade(config, "0008")
    huge = "x" * (100 << 10)
    old_rows = [("a", 1, "{}"), ("a", 1, "{}"), ("a", None, "{}"), ("a", None, "{}"),
                ("b", 1, "{}"), ("a", 2, "{}"), ("a", 1, huge), ("a", 1, huge)]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO quarantine (received_at, stage, reason, user_key, payload) "
                "VALUES (:at, :stage, 'why', :user, :payload)"
            ),
            [{"at": T0, "stage": st, "user": u, "payload": p} for st, u, p in old_rows],
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine).order_by(quarantine.c.quarantine_id)).all()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert [q.quarantine_id for q in kept] == [1, 3, 5, 6, 7], "the earliest of each is kept"
    assert [(q.payload_bytes, q.payload_sha256) for q in kept[:4]] == [
        (2, sha256(b"{}").hexdigest())
    ] * 4
    assert (kept[4].payload_bytes, kept[4].payload_sha256) == (
        100 << 10,
        sha256(huge.encode()).hexdigest(),
    )
    assert kept[4].payload == "x" * (64 << 10)
    with engine.begin() as conn:
        write_quarantine(conn, [Rejected("why", "{}", 1), Rejected("why", "{}")], stage="a")
    assert count(engine, quarantine) == 5, "rows from before the migration are matched too"


def test_plays_land_with_their_dimensions(engine: Engine) -> None:
    user = add_user(engine)
    events = [
        play(user, T0, artist="Nova Lane", title="Harbour Lights", track_id="1" * 22),
        play(user, T0 + timedelta(minutes=4), artist="Nova Lane", title="Undertow"),
        episode(user, T0 + timedelta(minutes=40)),
    ]
    result = EmbeddedProcessor(engine).process(events)
    assert (result.inserted, result.duplicates, result.quarantined) == (3, 0, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            select(fact_play.c.played_at_utc, fact_play.c.local_hour, dim_track.c.name)
            .join(dim_track, dim_track.c.track_key == fact_play.c.track_key)
            .order_by(fact_play.c.played_at_utc)
        ).all()
    assert [(as_utc(r[0]), r[1], r[2]) for r in rows] == [
        (T0, 8, "Harbour Lights"),
        (T0 + timedelta(minutes=4), 8, "Undertow"),
        (T0 + timedelta(minutes=40), 8, "Episode 12: Tape Hiss"),
    ]
    assert (count(engine, dim_artist), count(engine, dim_album), count(engine, dim_date)) == (
        2,
        1,
        1,
    )


def test_loading_twice_leaves_the_same_rows(engine: Engine) -> None:
    user = add_user(engine)
    events = [play(user, T0 + timedelta(minutes=3 * i), title=f"Song {i % 4}") for i in range(50)]
    processor = EmbeddedProcessor(engine, batch_size=7)
    first = processor.process(events)
    before = snapshot(engine)
    again = processor.process(events)
    assert (first.inserted, again.inserted, again.duplicates) == (50, 0, 50)
    assert snapshot(engine) == before


def test_bad_events_go_to_quarantine_and_the_good_ones_still_land(engine: Engine) -> None:
    user = add_user(engine)
    good = play(user, T0)
    wrong_type = good.model_dump(mode="json", by_alias=True) | {"ms_played": "lots"}
    missing = {k: v for k, v in good.model_dump(mode="json", by_alias=True).items() if k != "track"}
    future = play(user, datetime.now(UTC) + timedelta(days=30), title="Tomorrow")
    stranger = play(user + 41, T0, title="Someone else's")
    batch = [b"{not json", wrong_type, missing, good, future, stranger]
    result = EmbeddedProcessor(engine).process(batch)
    assert (result.received, result.inserted, result.quarantined) == (6, 1, 5)
    with engine.connect() as conn:
        reasons = [r.reason for r in conn.execute(select(quarantine).order_by("quarantine_id"))]
    assert reasons[0].startswith("invalid PlayEvent: ")
    assert "ms_played: Input should be a valid integer" in reasons[1]
    assert "track: Field required" in reasons[2]
    assert "is in the future" in reasons[3]
    assert reasons[4] == f"unknown user_id {user + 41}"
    with engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(select(quarantine).order_by("quarantine_id"))]
    assert payloads[0] == "{not json", "the original bytes are kept"


def test_a_later_play_fills_what_an_earlier_one_lacked(engine: Engine) -> None:
    user = add_user(engine)
    bare = play(user, T0, album="Tidal", duration_ms=None)
    richer_album = AlbumRef(
        name="Tidal", image_url="https://i.scdn.co/image/ab67", release_date="2024"
    )
    richer = play(user, T0 + timedelta(minutes=5), duration_ms=211_000).model_copy(
        update={
            "track": bare.track.model_copy(update={"album": richer_album, "duration_ms": 211_000})
        }
    )
    poorer = play(user, T0 + timedelta(minutes=10), album="Tidal", duration_ms=None)
    processor = EmbeddedProcessor(engine)
    for event in (bare, richer, poorer):
        processor.process([event])
    with engine.connect() as conn:
        album = conn.execute(select(dim_album)).one()
        track = conn.execute(select(dim_track)).one()
    assert (album.image_url, album.release_date) == ("https://i.scdn.co/image/ab67", "2024")
    assert track.duration_ms == 211_000


events_strategy = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 14),  # minute offset over two weeks
        st.sampled_from(["Nova Lane", "Ólafur Arnalds", "BEYONCÉ", "beyoncé"]),
        st.sampled_from(["Undertow", "Heroes - 2017 Remaster", "Heroes", "夜に駆ける"]),
        st.one_of(st.none(), st.integers(0, 400_000)),
        st.sampled_from(["api", "manual", "export_extended"]),
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=events_strategy, seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 9))
def test_shuffled_and_duplicated_batches_load_like_one_clean_load(
    database_factory: Callable[[str], Engine],
    backend: str,
    specs: list[tuple[int, str, str, int | None, str]],
    seed: int,
    batch: int,
) -> None:
    events = [
        play(
            1,
            T0 + timedelta(minutes=m),
            artist=a,
            title=t,
            ms_played=ms if src == "api" and ms is None else (ms or 1),
            source=src,
        )
        for m, a, t, ms, src in specs
    ]
    clean, messy = database_factory(backend), database_factory(backend)
    for engine in (clean, messy):
        add_user(engine)
    EmbeddedProcessor(clean).process(events)

    rng = random.Random(seed)
    replay: list[PlayEvent] = events + rng.sample(events, k=len(events) // 2 + 1)
    rng.shuffle(replay)
    EmbeddedProcessor(messy, batch_size=batch).process(replay)

    assert snapshot(messy) == snapshot(clean)


def test_users_are_added_and_listed(engine: Engine) -> None:
    with engine.begin() as conn:
        first = users.add_user(
            conn, name="Ada", email="ada@example.com", timezone="Pacific/Auckland"
        )
        second = users.add_user(conn, name="Grace", weekly_email=False)
    with engine.connect() as conn:
        people = users.list_users(conn)
        assert [(u.user_key, u.display_name, u.timezone, u.weekly_email) for u in people] == [
            (first, "Ada", "Pacific/Auckland", True),
            (second, "Grace", "UTC", False),
        ]
        with pytest.raises(UnknownUser, match="no user with id 999"):
            users.get_user(conn, 999)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Ada", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"name": "Ada", "email": "not-an-address"}, "not an email address"),
        ({"name": "  "}, "a user needs a name"),
    ],
)
def test_bad_user_details_are_refused(engine: Engine, kwargs: dict[str, Any], message: str) -> None:
    with engine.begin() as conn, pytest.raises(InvalidUser, match=message):
        users.add_user(conn, **kwargs)


def test_every_fact_points_at_stored_dimensions(engine: Engine) -> None:
    from weekly_wrapped.sources.synthetic import generate_plays

    user = add_user(engine)
    EmbeddedProcessor(engine, batch_size=500).process(
        generate_plays(user, weeks=3, seed=11, end=T0, timezone="Europe/Berlin")
    )
    checks = {
        "track": (fact_play.c.track_key, dim_track.c.track_key),
        "artist": (fact_play.c.artist_key, dim_artist.c.artist_key),
        "album": (fact_play.c.album_key, dim_album.c.album_key),
        "date": (fact_play.c.local_date_key, dim_date.c.date_key),
    }
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(fact_play)).scalar_one() > 100
        for name, (fact_column, dim_column) in checks.items():
            orphans = conn.execute(
                select(func.count())
                .select_from(fact_play)
                .where(fact_column.is_not(None), fact_column.not_in(select(dim_column)))
            ).scalar_one()
            assert orphans == 0, f"plays pointing at a missing {name}"


def test_moving_timezone_moves_plays_to_their_new_local_days(engine: Engine) -> None:
    user = add_user(engine, timezone="Europe/Berlin")
    late_sunday_utc = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Sunday 23:30 in Berlin
    EmbeddedProcessor(engine).process([play(user, late_sunday_utc)])
    with engine.begin() as conn:
        users.update_user(conn, user, timezone="Asia/Tokyo")  # Monday 07:30 in Tokyo
    with engine.connect() as conn:
        row = conn.execute(select(fact_play.c.local_date_key, fact_play.c.local_hour)).one()
        person = users.get_user(conn, user)
    assert (row.local_date_key, row.local_hour, person.timezone) == (20261123, 7, "Asia/Tokyo")
    assert count(engine, dim_date) == 2
