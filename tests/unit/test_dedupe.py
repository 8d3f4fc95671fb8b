"""Cross-source dedupe: which reports are one listen, and how new plays rematch stored ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_wrapped.processing.dedupe import (
    MergePlan,
    components,
    match,
    plan,
    reach_of,
    same_listen,
    spans_around,
    uncovered,
)
from weekly_wrapped.rows import PlayRow
from weekly_wrapped.warehouse.migrations import match_0008

T0 = datetime(2023, 3, 1, 21, 14, tzinfo=UTC)


def row(
    play_id: str,
    source: str,
    seconds: float,
    ms_played: int = 200_000,
    *,
    song: str = "midnight-city",
    user: int = 1,
) -> PlayRow:
    precision = "min" if source == "export_account" else "s"
    return PlayRow(
        play_id, user, "t", "a", None, song, T0 + timedelta(seconds=seconds), precision,
        20230301, 22, ms_played, source == "api", source, "track",
        None, None, None, None, None, None, False, "s",
    )  # fmt: skip


def groups(stored_as: dict[str, str]) -> set[frozenset[str]]:
    by_winner: dict[str, set[str]] = {}
    for play_id, winner in stored_as.items():
        by_winner.setdefault(winner, set()).add(play_id)
    return {frozenset(ids) for ids in by_winner.values()}


def test_the_account_and_extended_reports_of_one_play_are_stored_as_the_extended_one() -> None:
    account = row("A", "export_account", 0)
    extended = row("E", "export_extended", 27)
    assert match([account, extended]) == {"A": "E", "E": "E"}


def test_export_formats_must_agree_on_ms_played() -> None:
    assert not same_listen(
        row("A", "export_account", 0, 4210), row("E", "export_extended", 5, 4211)
    )


def test_windows_are_10_seconds_or_90_with_minute_precision() -> None:
    api = row("P", "api", 0)
    assert same_listen(api, row("E", "export_extended", 10))
    assert not same_listen(api, row("E", "export_extended", 10.5))
    assert same_listen(api, row("A", "export_account", 90))
    assert not same_listen(api, row("A", "export_account", 91))


def test_plays_of_one_source_never_merge_and_manual_plays_never_do() -> None:
    twins = [row("E1", "export_extended", 0), row("E2", "export_extended", 0)]
    assert match(twins) == {"E1": "E1", "E2": "E2"}
    assert not same_listen(row("M", "manual", 0), row("P", "api", 0))


def test_other_songs_and_other_users_never_merge() -> None:
    assert not same_listen(row("A", "export_account", 0), row("E", "export_extended", 0, song="x"))
    assert not same_listen(row("A", "export_account", 0), row("E", "export_extended", 0, user=2))


def test_skipping_back_and_forth_pairs_each_play_with_its_own_report() -> None:
    extended = [
        row("E1", "export_extended", 5, 4210),
        row("E2", "export_extended", 19, 13890),
        row("E3", "export_extended", 52, 32650),
    ]
    account = [
        row("A3", "export_account", 0, 32650),
        row("A1", "export_account", 0, 4210),
        row("A2", "export_account", 0, 13890),
    ]
    assert groups(match([*account, *extended])) == {
        frozenset({"A1", "E1"}),
        frozenset({"A2", "E2"}),
        frozenset({"A3", "E3"}),
    }


def test_identical_reports_pair_one_to_one_in_time_order() -> None:
    plays = [
        row("E-early", "export_extended", 62, 0),
        row("E-late", "export_extended", 69, 0),
        row("A-1", "export_account", 60, 0),
        row("A-0", "export_account", 60, 0),
    ]
    assert groups(match(plays)) == {frozenset({"A-0", "E-early"}), frozenset({"A-1", "E-late"})}


def test_three_sources_make_one_play_and_the_extended_export_wins() -> None:
    plays = [row("P", "api", 28), row("A", "export_account", 0), row("E", "export_extended", 25)]
    assert match(plays) == {"P": "E", "A": "E", "E": "E"}


def test_every_pair_in_a_group_must_match_not_just_a_neighbour() -> None:
    # The account play is close to both, but the API and extended reports are 85 s apart.
    plays = [row("P", "api", 0), row("A", "export_account", 60), row("E", "export_extended", 85)]
    assert groups(match(plays)) == {frozenset({"P", "A"}), frozenset({"E"})}


def test_a_better_report_replaces_the_stored_one() -> None:
    stored = row("A", "export_account", 0)
    incoming = row("E", "export_extended", 27)
    result = plan([incoming], [(stored, None)])
    assert result == MergePlan(store=[incoming], unstore=[stored], merge=[(stored, "E")])
    assert result.stored_change == 0


def test_a_worse_report_is_kept_as_merged_and_changes_nothing_stored() -> None:
    stored = row("E", "export_extended", 27)
    incoming = row("A", "export_account", 0)
    assert plan([incoming], [(stored, None)]) == MergePlan(merge=[(incoming, "E")])


def test_a_new_play_can_take_a_merged_report_from_a_later_play() -> None:
    # A was merged into E2 (80 s away); E1 arrives 5 s from A and takes it in time order.
    account = row("A", "export_account", 60, 0)
    later = row("E2", "export_extended", 140, 0)
    earlier = row("E1", "export_extended", 65, 0)
    result = plan([earlier], [(later, None), (account, "E2")])
    assert result.unmerge == ["A"]
    assert result.merge == [(account, "E1")]
    assert result.store == [earlier]


plays_strategy = st.lists(
    st.tuples(
        st.sampled_from(["api", "export_account", "export_extended", "manual"]),
        st.integers(0, 600),  # seconds
        st.sampled_from([0, 4210, 200_000]),
        st.sampled_from(["s1", "s2"]),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(specs=plays_strategy, split=st.data())
def test_matching_new_plays_into_stored_ones_equals_matching_everything_at_once(
    specs: list[tuple[str, int, int, str]], split: st.DataObject
) -> None:
    plays = [
        row(f"p{i}", source, seconds, ms, song=song)
        for i, (source, seconds, ms, song) in enumerate(specs)
    ]
    first = split.draw(st.lists(st.sampled_from(plays), unique=True)) if plays else []
    later = [p for p in plays if p not in first]
    stored_as = match(first)
    known = [
        (p, None if stored_as[p.play_id] == p.play_id else stored_as[p.play_id]) for p in first
    ]
    state = {p.play_id: into for p, into in known}
    result = plan(later, known)
    for play_id in result.unmerge:
        assert state[play_id] is not None
        del state[play_id]
    for play in result.unstore:
        assert state[play.play_id] is None
        del state[play.play_id]
    for play in result.store:
        state[play.play_id] = None
    for play, into in result.merge:
        state[play.play_id] = into
    expected = match(plays)
    assert {k: v or k for k, v in state.items()} == expected


def test_components_are_chains_of_one_song_within_reach() -> None:
    plays = [
        row("a", "api", 0),
        row("b", "api", 80),
        row("c", "api", 170),
        row("d", "api", 400),
        row("e", "api", 0, song="other"),
    ]
    chains = {frozenset(p.play_id for p in chain) for chain in components(plays)}
    assert chains == {frozenset({"a", "b", "c"}), frozenset({"d"}), frozenset({"e"})}


def test_spans_cover_reach_either_side_and_stay_few() -> None:
    hourly = [T0 + timedelta(hours=h) for h in range(100)]
    spans = spans_around(hourly)
    assert len(spans) <= 32
    assert spans[0][0] == T0 - timedelta(seconds=90)
    assert spans[-1][1] == hourly[-1] + timedelta(seconds=90)
    assert all(any(lo <= t <= hi for lo, hi in spans) for t in hourly)
    assert spans_around([T0, T0 + timedelta(minutes=3)]) == [
        (T0 - timedelta(seconds=90), T0 + timedelta(minutes=3, seconds=90))
    ]


def test_only_spans_not_yet_read_are_read_again() -> None:
    read = [(T0, T0 + timedelta(hours=1))]
    inside = (T0 + timedelta(minutes=5), T0 + timedelta(minutes=9))
    past_the_edge = (T0 + timedelta(minutes=59), T0 + timedelta(minutes=62))
    assert uncovered([inside], read) == []
    assert uncovered([inside, past_the_edge], read) == [past_the_edge]


def test_spans_at_the_ends_of_the_calendar_stop_there_instead_of_overflowing() -> None:
    first, last = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    assert spans_around([first, last]) == [
        (first, first + timedelta(seconds=90)),
        (last - timedelta(seconds=90), last),
    ]
    assert reach_of([row("a", "api", 0)._replace(played_at_utc=first)])[0] == first


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(
        st.tuples(
            st.sampled_from(["api", "export_account", "export_extended", "manual"]),
            st.integers(0, 100),  # close together: windows and their edges matter
            st.sampled_from([0, 4210, 200_000]),
            st.sampled_from(["s1", "s2"]),
        ),
        max_size=20,
    )
)
def test_migration_0008_matches_as_the_processor_does(
    specs: list[tuple[str, int, int, str]],
) -> None:
    """Revision 0008's frozen copy of the rule agrees with the live one it was taken from."""
    plays = [
        row(f"p{i}", source, seconds, ms, song=song)
        for i, (source, seconds, ms, song) in enumerate(specs)
    ]
    assert match_0008.match(plays) == match(plays)
