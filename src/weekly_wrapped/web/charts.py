"""The dashboard's charts as server-rendered SVG: no script, no CDN, readable without colour.

Each chart is a list of shapes with their own text (a ``<title>`` per bar or cell,
read by screen readers and shown on hover) and an overall label; the template
draws them. Colours come from classes in the stylesheet, so light and dark follow
the system setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from weekly_wrapped.insights import story as words

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Shape:
    """A bar or a cell: where it sits, its class (its colour) and what it says."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class SvgChart:
    """One chart: its box, shapes, axis labels and a summary for screen readers."""

    name: str
    width: int
    height: int
    summary: str
    shapes: list[Shape]
    labels: list[Label]


def bar_chart(
    name: str, values: Sequence[float], labels: Sequence[str], highlight: int | None, summary: str
) -> SvgChart:
    """Bars of minutes, one per label, the highlighted one in the accent colour."""
    width, height, bottom = 420, 180, 24
    slot = width / max(len(values), 1)
    peak = max(values, default=0.0) or 1.0
    shapes, marks = [], []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        tall = 0.0 if value <= 0 else max((height - bottom - 8) * value / peak, 2.0)
        x = i * slot + slot * 0.18
        css = "bar accent" if i == highlight else "bar"
        title = f"{label}: {words.minutes(value)} minutes"
        shapes.append(Shape(round(x, 1), round(height - bottom - tall, 1),
                            round(slot * 0.64, 1), round(tall, 1), css, title))  # fmt: skip
        marks.append(Label(round(i * slot + slot / 2, 1), height - 6, label))
    return SvgChart(name, width, height, summary, shapes, marks)


def daily_chart(daily_minutes: Sequence[float], busiest_day: int | None) -> SvgChart:
    """Minutes per day, Monday first."""
    told = ", ".join(f"{DAY_NAMES[d]} {words.minutes(m)}" for d, m in enumerate(daily_minutes))
    return bar_chart("daily", daily_minutes, DAYS, busiest_day, f"Minutes per day: {told}.")


def trend_chart(weekly_minutes: Sequence[float], labels: Sequence[str]) -> SvgChart:
    """Minutes per week, oldest first; this week last and highlighted."""
    told = ", ".join(
        f"{label} {words.minutes(m)}" for label, m in zip(labels, weekly_minutes, strict=True)
    )
    return bar_chart("trend", weekly_minutes, labels, len(weekly_minutes) - 1,
                     f"Minutes per week: {told}.")  # fmt: skip


def heatmap_chart(heatmap: Sequence[Sequence[float]]) -> SvgChart:
    """Seven rows of 24 hours; darker to brighter in five steps of minutes."""
    cell, left, top = 16, 34, 4
    peak = max((m for row in heatmap for m in row), default=0.0) or 1.0
    shapes, labels = [], []
    for day, row in enumerate(heatmap):
        labels.append(Label(left - 6, top + day * cell + cell * 0.7, DAYS[day]))
        for hour, minutes in enumerate(row):
            level = 0 if minutes <= 0 else min(4, 1 + int(3.999 * minutes / peak))
            title = f"{DAY_NAMES[day]} {hour:02d}:00: {words.minutes(minutes)} minutes"
            shapes.append(Shape(left + hour * cell, top + day * cell, cell - 2, cell - 2,
                                f"cell level{level}", title))  # fmt: skip
    for hour in (0, 6, 12, 18):
        labels.append(Label(left + hour * cell + cell / 2, top + 7 * cell + 12, f"{hour:02d}"))
    busiest = max(((m, d, h) for d, row in enumerate(heatmap) for h, m in enumerate(row)),
                  default=(0.0, 0, 0))  # fmt: skip
    summary = (
        "Minutes by weekday and hour."
        if busiest[0] <= 0
        else f"Minutes by weekday and hour; the busiest hour was {DAY_NAMES[busiest[1]]} "
        f"{busiest[2]:02d}:00 with {words.minutes(busiest[0])} minutes."
    )
    return SvgChart("heatmap", left + 24 * cell, top + 7 * cell + 18, summary, shapes, labels)
