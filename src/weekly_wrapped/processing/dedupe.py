"""The same play seen by two sources is stored once (DESIGN §3).

The API, the account-data export and the extended export can each report one
listen. Plays of one user and one song are matched one to one, in time order:
each play joins the earliest group it fits, a group holds at most one play per
source, and every pair in a group must be within 10 s of each other (90 s when
either has minute precision), with equal `ms_played` between the two export
formats. The group is stored as its best play (extended export, then account
export, then API); the others are kept as merged into it.

Matching is a pure function of the set of plays, so the warehouse does not depend
on the order in which files, batches or polls arrive. Plays of one song further
than `REACH` apart can never meet, so it is enough to rematch the chains of plays
(a *component*) that new plays touch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from weekly_wrapped.rows import PlayRow

PRIORITY = {"export_extended": 3, "export_account": 2, "api": 1}
"""Sources whose plays are matched; a higher number's fields win."""

EXACT_WINDOW = timedelta(seconds=10)
MINUTE_WINDOW = timedelta(seconds=90)
REACH = MINUTE_WINDOW
"""The furthest apart two matched plays can be."""

SongPlays = tuple[int, str]


def mergeable(play: PlayRow) -> bool:
    """Whether a play takes part in matching; other sources (manual) never merge."""
    return play.source in PRIORITY


def same_listen(a: PlayRow, b: PlayRow) -> bool:
    """Whether two plays from different sources are one listen seen twice."""
    if a.source == b.source or a.source not in PRIORITY or b.source not in PRIORITY:
        return False
    if a.user_key != b.user_key or a.song_key != b.song_key:
        return False
    minute = a.time_precision == "min" or b.time_precision == "min"
    if abs(a.played_at_utc - b.played_at_utc) > (MINUTE_WINDOW if minute else EXACT_WINDOW):
        return False
    both_exports = a.source != "api" and b.source != "api"
    return not both_exports or a.ms_played == b.ms_played


@dataclass
class _Group:
    members: list[PlayRow]

    @property
    def first_at(self) -> datetime:
        return self.members[0].played_at_utc

    def accepts(self, play: PlayRow) -> bool:
        if any(m.source == play.source for m in self.members):
            return False
        return all(same_listen(play, m) for m in self.members)

    def representative(self) -> PlayRow:
        return max(self.members, key=lambda m: PRIORITY.get(m.source, 0))


def _in_time_order(plays: Iterable[PlayRow]) -> list[PlayRow]:
    return sorted(plays, key=lambda p: (p.played_at_utc, p.play_id))


def match(plays: Iterable[PlayRow]) -> dict[str, str]:
    """Each play's id → the id of the play it is stored as (its own id when it stands alone)."""
    stored_as: dict[str, str] = {}
    for song_plays in _by_song(plays).values():
        for group in _groups(song_plays):
            winner = group.representative().play_id
            for member in group.members:
                stored_as[member.play_id] = winner
    return stored_as


def _by_song(plays: Iterable[PlayRow]) -> dict[SongPlays, list[PlayRow]]:
    by_song: dict[SongPlays, list[PlayRow]] = {}
    for play in plays:
        by_song.setdefault((play.user_key, play.song_key), []).append(play)
    return by_song


def _groups(song_plays: Sequence[PlayRow]) -> list[_Group]:
    """Greedy, in time order: each play joins the earliest open group that accepts it."""
    if len({p.source for p in song_plays}) < 2:
        return [_Group([p]) for p in song_plays]
    done: list[_Group] = []
    open_groups: deque[_Group] = deque()
    for play in _in_time_order(song_plays):
        while open_groups and play.played_at_utc - open_groups[0].first_at > REACH:
            done.append(open_groups.popleft())
        group = next((g for g in open_groups if g.accepts(play)), None)
        if group is None:
            open_groups.append(_Group([play]))
        else:
            group.members.append(play)
    return done + list(open_groups)


def components(plays: Iterable[PlayRow]) -> list[list[PlayRow]]:
    """Chains of one user's plays of one song, each within `REACH` of the next."""
    chains: list[list[PlayRow]] = []
    for song_plays in _by_song(plays).values():
        ordered = _in_time_order(song_plays)
        chain = [ordered[0]]
        for play in ordered[1:]:
            if play.played_at_utc - chain[-1].played_at_utc > REACH:
                chains.append(chain)
                chain = []
            chain.append(play)
        chains.append(chain)
    return chains


@dataclass
class MergePlan:
    """How the stored and merged plays change when new plays join them."""

    store: list[PlayRow] = field(default_factory=list)
    """Plays that become stored plays: new ones, or merged ones standing alone again."""
    unstore: list[PlayRow] = field(default_factory=list)
    """Stored plays that are now merged into another play."""
    merge: list[tuple[PlayRow, str]] = field(default_factory=list)
    """Plays kept as merged into the play with the given id (new, moved or retargeted)."""
    unmerge: list[str] = field(default_factory=list)
    """Ids of merged plays whose row is replaced (they moved, or merge elsewhere now)."""

    @property
    def stored_change(self) -> int:
        """How many more stored plays there are afterwards."""
        return len(self.store) - len(self.unstore)


def plan(incoming: Sequence[PlayRow], known: Sequence[tuple[PlayRow, str | None]]) -> MergePlan:
    """Rematch new plays with the known plays of their components.

    `known` pairs each play already in the warehouse with the id it is merged
    into, or None when it is stored. It must hold every known play of the
    components the new plays touch (see `components`).
    """
    if not known and len({p.source for p in incoming}) < 2:
        return MergePlan(store=list(incoming))  # one source alone never merges
    plays = [*incoming, *(play for play, _ in known)]
    stored_as = match(plays)
    result = MergePlan()
    for play in incoming:
        target = stored_as[play.play_id]
        if target == play.play_id:
            result.store.append(play)
        else:
            result.merge.append((play, target))
    for play, merged_into in known:
        _replan(play, merged_into, stored_as[play.play_id], result)
    by_id = {p.play_id: p for p in plays}
    result.merge = [(_measured_by(play, by_id[target]), target) for play, target in result.merge]
    return result


def _measured_by(play: PlayRow, target: PlayRow) -> PlayRow:
    """A merged play whose length was only estimated takes the length its match measured.

    The estimate hangs on which neighbours had arrived when it was made; the match's
    measure does not, so the merged rows never depend on batch size or arrival order.
    """
    if play.ms_played_estimated and not target.ms_played_estimated:
        return play._replace(ms_played=target.ms_played)
    return play


def _replan(play: PlayRow, merged_into: str | None, target: str, result: MergePlan) -> None:
    stands_alone = target == play.play_id
    if merged_into is None:
        if not stands_alone:
            result.unstore.append(play)
            result.merge.append((play, target))
    elif stands_alone:
        result.unmerge.append(play.play_id)
        result.store.append(play)
    elif merged_into != target:
        result.unmerge.append(play.play_id)
        result.merge.append((play, target))


Span = tuple[datetime, datetime]

JOIN_GAP = timedelta(hours=1)
"""Spans closer than this are read as one: a few extra rows beat another query."""
MAX_SPANS = 32
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def around(at: datetime) -> Span:
    """`REACH` either side of `at`, cut at the ends of the calendar rather than overflowing."""
    return max(at, _EARLIEST + REACH) - REACH, min(at, _LATEST - REACH) + REACH


def reach_of(chain: Sequence[PlayRow]) -> Span:
    """The time span a chain (in time order) could still grow into."""
    return around(chain[0].played_at_utc)[0], around(chain[-1].played_at_utc)[1]


def spans_around(times: Iterable[datetime]) -> list[Span]:
    """Few spans covering `REACH` either side of each time, for reading known plays."""
    spans: list[Span] = []
    for at in sorted(times):
        first, last = around(at)
        if spans and first - spans[-1][1] < JOIN_GAP:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((first, last))
    return _at_most(spans, MAX_SPANS)


def _at_most(spans: list[Span], limit: int) -> list[Span]:
    """Join the spans separated by the smallest gaps until `limit` remain."""
    if len(spans) <= limit:
        return spans
    gaps = sorted(range(1, len(spans)), key=lambda i: spans[i][0] - spans[i - 1][1])
    splits = sorted(gaps[len(gaps) - (limit - 1) :])
    starts = [0, *splits]
    ends = [*(i - 1 for i in splits), len(spans) - 1]
    return [(spans[s][0], spans[e][1]) for s, e in zip(starts, ends, strict=True)]


def uncovered(needed: Iterable[Span], covered: Sequence[Span]) -> list[Span]:
    """The needed spans that no covered span holds whole, joined into few spans."""
    missing = [
        (first, last)
        for first, last in needed
        if not any(lo <= first and last <= hi for lo, hi in covered)
    ]
    if not missing:
        return []
    return _at_most(_joined(missing), MAX_SPANS)


def _joined(spans: Iterable[Span]) -> list[Span]:
    joined: list[Span] = []
    for first, last in sorted(spans):
        if joined and first <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], last))
        else:
            joined.append((first, last))
    return joined
