"""Recommendation material from a user's own history, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from tests.factories import play
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.insights.history import History, load_history
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import dim_track, fact_play
from weekly_wrapped.weeks import week_date_keys

WEEK = date(2026, 11, 16)  # Monday of 2026-W47
THIS_WEEK = datetime(2026, 11, 18, 19, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
OLD_ID = "0" * 21 + "A"


def streams(user: int, at: datetime, count: int, **song: object) -> list[PlayEvent]:
    """`count` full plays of one song, an hour apart from `at`."""
    return [play(user, at + timedelta(hours=i), **song) for i in range(count)]  # type: ignore[arg-type]


def listening(user: int) -> list[PlayEvent]:
    """A history where each song tests one rule of what may be recommended."""
    nova = {"artist": "Nova Lane"}
    return [
        # This week: Nova Lane is the top artist.
        *streams(user, THIS_WEEK, 6, title="Harbour Lights", **nova),
        *streams(user, THIS_WEEK + timedelta(days=1), 1, title="Played Again", **nova),
        # Loved long ago and quiet since: the best picks.
        *streams(user, LONG_AGO, 8, title="Old Favourite", track_id=OLD_ID, **nova),
        *streams(user, LONG_AGO, 4, artist="Cass Quill", title="Middling Favourite"),
        # Loved long ago, but heard within the last eight weeks, or this week.
        *streams(user, LONG_AGO, 6, artist="Cass Quill", title="Still Around"),
        play(user, datetime(2026, 10, 20, 9, tzinfo=UTC), artist="Cass Quill", title="Still Around"),
        *streams(user, LONG_AGO, 6, title="Played Again", **nova),
        # Not loved: too few streams, only skips, or only incognito.
        *streams(user, LONG_AGO, 2, artist="Cass Quill", title="Heard Twice"),
        *[play(user, LONG_AGO + timedelta(minutes=i), artist="Oona Ferro", title="Skipped",
               ms_played=9_000) for i in range(6)],  # fmt: skip
        *[play(user, LONG_AGO + timedelta(minutes=5 * i), artist="Oona Ferro", title="Secret",
               incognito=True) for i in range(6)],  # fmt: skip
        # Another Nova Lane song, streamed before but not this week.
        *streams(user, datetime(2026, 9, 1, 8, tzinfo=UTC), 2, title="Deep Cut", **nova),
        # After the week: must not change this week's history.
        play(user, datetime(2026, 12, 2, 8, tzinfo=UTC), artist="Cass Quill", title="Middling Favourite"),
    ]  # fmt: skip


def setup(engine: Engine) -> int:
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada", timezone="Europe/Berlin")
    EmbeddedProcessor(engine).process(listening(user))
    return user


def history_of(engine: Engine, user: int, top_artists: list[str]) -> History:
    with engine.connect() as conn:
        return load_history(conn, user, WEEK, top_artists)


def test_favourites_gone_quiet_are_loved_songs_unheard_for_eight_weeks(engine: Engine) -> None:
    user = setup(engine)
    found = history_of(engine, user, ["Nova Lane"]).favourites_gone_quiet
    assert [(t.track, t.artist, t.streams) for t in found] == [
        ("Old Favourite", "Nova Lane", 8),
        ("Middling Favourite", "Cass Quill", 4),
    ]
    assert found[0].last_played == date(2026, 3, 11)
    assert found[0].spotify_id == OLD_ID
    assert found[1].spotify_id is None


def test_more_from_top_artists_skips_what_was_played_this_week(engine: Engine) -> None:
    user = setup(engine)
    found = history_of(engine, user, ["Nova Lane"]).more_from_top_artists
    assert [(t.track, t.streams) for t in found] == [("Deep Cut", 2)]


def test_nothing_offered_was_played_this_week(engine: Engine) -> None:
    user = setup(engine)
    history = history_of(engine, user, ["Nova Lane", "Cass Quill", "Oona Ferro"])
    first, end = week_date_keys(WEEK)
    with engine.connect() as conn:
        this_week = set(
            conn.execute(
                select(dim_track.c.name)
                .join(fact_play, fact_play.c.track_key == dim_track.c.track_key)
                .where(fact_play.c.local_date_key >= first, fact_play.c.local_date_key < end)
            ).scalars()
        )
    offered = {t.track for t in [*history.favourites_gone_quiet, *history.more_from_top_artists]}
    assert this_week == {"Harbour Lights", "Played Again"}
    assert offered
    assert not offered & this_week


def test_an_unknown_artist_or_a_new_user_gives_an_empty_history(engine: Engine) -> None:
    user = setup(engine)
    assert history_of(engine, user, ["Nobody At All"]).more_from_top_artists == []
    with engine.begin() as conn:
        newcomer = users.add_user(conn, name="Grace")
    assert history_of(engine, newcomer, []) == History()
