"""How stories write numbers: the roundings the grounding rule is stated in."""

from __future__ import annotations

import pytest

from tests.unit.test_email_message import entry, sample_stats
from weekly_wrapped.insights import story
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.writers import OfflineWriter


@pytest.mark.parametrize(
    ("share", "written"),
    [(0.0, "0%"), (0.285, "29%"), (0.4234, "42%"), (0.995, "100%"), (1.0, "100%")],
)
def test_shares_are_whole_percentages_rounded_half_up(share: float, written: str) -> None:
    assert story.percent(share) == written


@pytest.mark.parametrize(
    ("value", "written"),
    [(45.0, "45"), (512.3, "512.3"), (1234.5, "1,234.5"), (0.05, "0.1"), (-42.5, "42.5")],
)
def test_minutes_keep_one_decimal_and_drop_a_trailing_zero(value: float, written: str) -> None:
    assert story.minutes(value) == written


def test_minutes_and_hours_carry_their_unit_in_the_right_number() -> None:
    assert story.in_minutes(1.0) == "1 minute"
    assert story.in_minutes(90.5) == "90.5 minutes"
    assert story.hours(510.0) == "8.5 hours"
    assert story.hours(60.0) == "1 hour"
    assert story.hours(125.0) == "2.1 hours"


@pytest.mark.parametrize(
    ("hour", "written"),
    [(0, "midnight"), (5, "5 am"), (11, "11 am"), (12, "noon"), (13, "1 pm"), (23, "11 pm")],
)
def test_clock_hours_read_as_people_say_them(hour: int, written: str) -> None:
    assert story.clock(hour) == written


def test_counts_have_thousands_separators_and_agree_with_their_noun() -> None:
    assert story.counted(1, "stream") == "1 stream"
    assert story.counted(1234, "stream") == "1,234 streams"
    assert story.counted(0, "skip") == "0 skips"


def test_names_are_joined_as_a_list_in_prose() -> None:
    assert story.join_names([]) == ""
    assert story.join_names(["A"]) == "A"
    assert story.join_names(["A", "B", "C"]) == "A, B and C"


def test_fit_words_keeps_earlier_sentences_and_skips_what_does_not_fit() -> None:
    text = story.fit_words(["one two three.", None, "four five six seven.", "eight."], 5)
    assert text == "one two three. eight."
    assert story.word_count(text) <= 5


def test_a_single_overlong_sentence_is_cut_with_an_ellipsis() -> None:
    text = story.fit_words(["a b c d e f g"], 4)
    assert text == "a b c d…"


def tied_week() -> ListeningStats:
    """A week whose top artist and top track are shared by a renamed artist's two names."""
    return sample_stats(
        top_artists=[
            entry("Lady A", minutes=22.2),
            entry("Lady Antebellum", minutes=22.2),
            entry("Björk", minutes=20.1),
        ],
        top_tracks=[
            entry("Need You Now", "Lady A", streams=4, minutes=18.4),
            entry("Need You Now", "Lady Antebellum", streams=4, minutes=13.9),
            entry("Jóga", "Björk", streams=3),
        ],
        top_artist_share=0.2,
        artist_diversity=0.8,
    )


def test_a_tie_at_the_top_is_told_as_a_tie() -> None:
    stats = tied_week()
    story = OfflineWriter().write(stats, History())
    assert "Lady A and Lady Antebellum tied at the top of your artists" in story.summary
    assert "Need You Now by Lady A and Need You Now by Lady Antebellum tied" in story.summary
    assert "led your artists" not in story.summary
