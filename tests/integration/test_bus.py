"""The transport seam: import, poll and generate publish through the bus, once per play.

A recording bus sees every event a source publishes. Wrapped around the local bus it
shows what reaches the warehouse; alone, it stands for a bus that only delivers (Kafka):
its acknowledgement is all the import gets, and the import's progress must follow it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, union_all

from tests.fakes.spotify import FakeSpotify, ManualClock
from tests.fakes.spotify.harness import log_in, spotify_settings
from tests.integration.test_concurrency import history
from weekly_wrapped import pipeline
from weekly_wrapped.bus import Ack, Bus, BusRefused
from weekly_wrapped.bus.factory import local_bus, open_bus
from weekly_wrapped.config import load_settings
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.imports import import_export
from weekly_wrapped.sources.spotify.poller import Poller
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import fact_play, fact_play_merged, import_job

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
EXPORT = FIXTURES / "my_spotify_data"
DAY = datetime(2026, 11, 16, tzinfo=UTC)


class RecordingBus:
    """Records every event it is given; hands them on to `inner` when there is one.

    Without `inner` it only acknowledges, as a bus that delivers elsewhere does; with
    `accept_at_most`, it accepts that many events in all and then fewer than it is given.
    """

    def __init__(self, inner: Bus | None = None, accept_at_most: int | None = None) -> None:
        self.inner = inner
        self.accept_at_most = accept_at_most
        self.published: list[PlayEvent] = []

    @property
    def ids(self) -> list[str]:
        return [event.event_id for event in self.published]

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        batch = list(events)
        if self.accept_at_most is not None:
            batch = batch[: max(0, self.accept_at_most - len(self.published))]
        self.published += batch
        if self.inner is None:
            return Ack(len(batch))
        ack = self.inner.publish(batch)
        return Ack(ack.accepted, ack.written)

    def in_transaction(self, conn: Connection) -> Bus:
        if self.inner is None:
            return self  # delivers elsewhere: acknowledges before the caller commits
        bound = RecordingBus(self.inner.in_transaction(conn))
        bound.published = self.published
        return bound


def add_user(engine: Engine) -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name="Ada", timezone="Europe/Berlin")


def warehouse_ids(engine: Engine) -> list[str]:
    """Every play the warehouse holds, stored or merged into another."""
    with engine.connect() as conn:
        query = union_all(select(fact_play.c.play_id), select(fact_play_merged.c.play_id))
        return sorted(conn.execute(query).scalars())


def rows_read(engine: Engine) -> tuple[str, int]:
    """The newest import job's status and rows read."""
    with engine.connect() as conn:
        row = conn.execute(
            select(import_job.c.status, import_job.c.rows_read).order_by(import_job.c.job_id.desc())
        ).first()
    assert row is not None
    return row.status, int(row.rows_read)


def test_an_import_publishes_every_play_once_and_a_rerun_publishes_none(engine: Engine) -> None:
    user = add_user(engine)
    bus = RecordingBus(local_bus(engine))
    summary = import_export(engine, user, [EXPORT], bus=bus)

    assert max(Counter(bus.ids).values()) == 1, "no play published twice"
    assert sorted(bus.ids) == warehouse_ids(engine), "what landed is what was published"
    assert summary.plays_added + summary.merged == len(bus.ids)
    again = RecordingBus(local_bus(engine))
    assert import_export(engine, user, [EXPORT], bus=again).duplicates == len(bus.ids)
    assert again.published == [], "plays already in the warehouse are not sent again"


def test_generate_publishes_every_play_once(engine: Engine, tmp_path: Path) -> None:
    user = add_user(engine)
    settings = load_settings(data_dir=tmp_path, batch_size=100)
    bus = RecordingBus(open_bus(engine, settings))
    result = pipeline.generate(engine, settings, user, weeks=2, seed=5, bus=bus)

    assert max(Counter(bus.ids).values()) == 1
    assert sorted(bus.ids) == warehouse_ids(engine)
    assert result.received == result.inserted == len(bus.ids) > 100


def test_a_poll_publishes_every_play_once(
    engine: Engine, fake: FakeSpotify, clock: ManualClock, tmp_path: Path
) -> None:
    settings = spotify_settings(fake, engine, tmp_path)
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", 30)
    bus = RecordingBus(open_bus(engine, settings))
    poller = Poller(engine, settings, clock=clock, bus=bus)

    [outcome] = poller.poll().outcomes
    [again] = poller.poll().outcomes
    assert (outcome.plays, again.plays) == (30, 0)
    assert max(Counter(bus.ids).values()) == 1 and len(bus.ids) == 30
    assert sorted(bus.ids) == warehouse_ids(engine)


# --- progress follows acknowledgement -------------------------------------------------------


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    """150 plays, one per row, by bands no other test plays."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Streaming_History_Audio_2015_0.json").write_text(json.dumps(history(150)))
    return folder


def test_an_import_records_progress_only_for_plays_the_bus_acknowledged(
    engine: Engine, history_file: Path
) -> None:
    options: dict[str, Any] = {"batch_size": 16, "commit_rows": 40}
    user = add_user(engine)
    every = RecordingBus()  # a job of its own, done: the next import starts a new one
    import_export(engine, user, [history_file], bus=every, **options)
    assert len(set(every.ids)) == 150

    refusing = RecordingBus(accept_at_most=100)
    with pytest.raises(BusRefused, match="accepted 4 of 16 plays"):
        import_export(engine, user, [history_file], bus=refusing, **options)
    status, done = rows_read(engine)
    assert status == "running" and done == 80, "the batch of 96 to 112 was never acknowledged"
    assert set(every.ids[:done]) <= set(refusing.ids), "progress counts acknowledged plays only"

    rest = RecordingBus()
    finished = import_export(engine, user, [history_file], bus=rest, **options)
    assert finished.resumed and rows_read(engine) == ("done", 150)
    assert rest.ids == every.ids[done:], "the rerun publishes the rest, from the last progress"


# --- one writer per user at a time ----------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DAY)


def listen(fake: FakeSpotify, user: str, plays: int) -> None:
    tracks = fake.catalog.track_list()
    for n in range(plays):
        fake.listen(user, tracks[n * 7 % len(tracks)].id, DAY - timedelta(minutes=5 * n))


def export_of(fake: FakeSpotify, user: str, folder: Path, filler: int) -> Path:
    """The user's extended history: the plays Spotify serves, then `filler` older ones."""
    rows = []
    for served in fake.listeners[user].plays:
        track = fake.catalog.tracks[served.track_id]
        artist = fake.catalog.artists[track.artist_ids[0]]
        row = {**history(1)[0], "ts": served.played_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        row |= {
            "ms_played": track.duration_ms,
            "master_metadata_track_name": track.name,
            "master_metadata_album_artist_name": artist.name,
            "master_metadata_album_album_name": fake.catalog.albums[track.album_id].name,
            "spotify_track_uri": f"spotify:track:{track.id}",
        }
        rows.append(row)
    folder.mkdir()
    (folder / "Streaming_History_Audio_2026.json").write_text(json.dumps(rows + history(filler)))
    return folder


class PollMidway:
    """The local bus, which starts a poll once the import's first batches are written.

    The import's transaction is open then, with the overlapping plays in it; the poll
    gets two seconds to finish before the import goes on.
    """

    def __init__(self, inner: Bus, poll: Callable[[], None], after: int) -> None:
        self.inner, self.poll, self.after = inner, poll, after
        self.thread: threading.Thread | None = None

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        ack = self.inner.publish(events)
        self.after -= 1
        if self.after == 0:
            self.thread = threading.Thread(target=self.poll)
            self.thread.start()
            self.thread.join(timeout=2)
        return ack

    def in_transaction(self, conn: Connection) -> Bus:
        self.inner = self.inner.in_transaction(conn)
        return self


@pytest.mark.postgres
def test_a_poll_and_an_import_of_one_user_at_once_store_each_play_once(
    database_factory: Callable[[str], Engine], fake: FakeSpotify, clock: ManualClock, tmp_path: Path
) -> None:
    engine = database_factory("postgresql")
    settings = spotify_settings(fake, engine, tmp_path)
    user = log_in(engine, settings, fake, "ada.l", clock=clock).user_key
    listen(fake, "ada.l", 40)
    export = export_of(fake, "ada.l", tmp_path / "export", filler=400)
    outcomes = []

    def poll() -> None:
        poller = Poller(engine, settings, clock=clock)
        try:
            outcomes.extend(poller.poll().outcomes)
        finally:
            poller.client.close()

    bus = PollMidway(open_bus(engine, settings), poll, after=2)
    summary = import_export(engine, user, [export], batch_size=20, commit_rows=10_000, bus=bus)
    assert bus.thread is not None
    bus.thread.join()

    assert [(o.status, o.plays) for o in outcomes] == [("ok", 40)]
    assert summary.plays_added == 440
    with engine.connect() as conn:
        stored = conn.execute(select(fact_play.c.source, func.count()).group_by("source")).all()
        merged = conn.execute(select(func.count()).select_from(fact_play_merged)).scalar()
    assert dict(stored) == {"export_extended": 440}, "each listen stored once, the export's"
    assert merged == 40, "every polled play merged into its export twin"
