"""Cross-source matching as it stood at revision 0008, frozen for that migration.

The rule is DESIGN §3's, the same as `processing.dedupe` applied at revision 0008:
plays of one user and one song from different sources are matched one to one, in
time order, within 10 s (90 s where either side has minute precision), with equal
`ms_played` between the two export formats; the best source's play is stored.
A migration must do what it did when it was written, so it keeps its own copy, as
it keeps its own table names: a later change to the live rule (which would need
its own migration to rematch stored plays) never changes what revision 0008 does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

PRIORITY = {"export_extended": 3, "export_account": 2, "api": 1}
"""Sources whose plays are matched; a higher number's fields win."""
EXACT_WINDOW = timedelta(seconds=10)
MINUTE_WINDOW = timedelta(seconds=90)


class Play(Protocol):
    """What matching reads of a play."""

    @property
    def play_id(self) -> str: ...
    @property
    def user_key(self) -> int: ...
    @property
    def song_key(self) -> str: ...
    @property
    def played_at_utc(self) -> datetime: ...
    @property
    def time_precision(self) -> str: ...
    @property
    def ms_played(self) -> int | None: ...
    @property
    def source(self) -> str: ...


def same_listen(a: Play, b: Play) -> bool:
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


def match(plays: Iterable[Play]) -> dict[str, str]:
    """Each play's id → the id of the play it is stored as (its own id when it stands alone)."""
    by_song: dict[tuple[int, str], list[Play]] = {}
    for play in plays:
        by_song.setdefault((play.user_key, play.song_key), []).append(play)
    stored_as: dict[str, str] = {}
    for song_plays in by_song.values():
        for group in _groups(song_plays):
            winner = max(group, key=lambda m: PRIORITY.get(m.source, 0)).play_id
            for member in group:
                stored_as[member.play_id] = winner
    return stored_as


def _groups(song_plays: Sequence[Play]) -> list[list[Play]]:
    """Greedy, in time order: each play joins the earliest open group that accepts it."""
    if len({p.source for p in song_plays}) < 2:
        return [[p] for p in song_plays]
    done: list[list[Play]] = []
    open_groups: deque[list[Play]] = deque()
    for play in sorted(song_plays, key=lambda p: (p.played_at_utc, p.play_id)):
        while open_groups and play.played_at_utc - open_groups[0][0].played_at_utc > MINUTE_WINDOW:
            done.append(open_groups.popleft())
        group = next((g for g in open_groups if _accepts(g, play)), None)
        if group is None:
            open_groups.append([play])
        else:
            group.append(play)
    return done + list(open_groups)


def _accepts(group: list[Play], play: Play) -> bool:
    if any(m.source == play.source for m in group):
        return False
    return all(same_listen(play, m) for m in group)
