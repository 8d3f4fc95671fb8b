"""The recap's charts as PNGs (matplotlib, Agg): minutes per day, the hour × weekday
heatmap and the four-week trend.

Charts carry no text at all. Labels and numbers live in the email's HTML beside them,
so a reader whose client blocks images still gets every fact, and a chart never needs
a font. Each chart fills its canvas edge to edge, so HTML cells of equal width line
up under its bars.

Building a matplotlib figure costs more than drawing it, so each thread keeps one
figure per kind of chart and only changes its data between emails.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import matplotlib

matplotlib.use("Agg")  # before anything else from matplotlib: no display, ever

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap, PowerNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

CARD = "#1b1b24"
"""The card the charts sit on; each PNG's background is this colour, so no client recolours it."""
QUIET = "#4a4a5e"
ACCENT = "#1ed760"
BAR = "#8b7cf6"
SCALE = 2
"""Pixels per CSS pixel, so charts stay sharp on high-density screens."""
DAILY_HEIGHT, TREND_HEIGHT = 140, 96

_HEAT = LinearSegmentedColormap.from_list("wrapped", ["#2a2a3c", "#43358a", "#8b7cf6", ACCENT])
_local = threading.local()
C = TypeVar("C", bound="_Canvas")


@dataclass(frozen=True)
class Chart:
    """One rendered chart and its size in CSS pixels."""

    name: str
    png: bytes
    width: int
    height: int


def daily_chart(daily_minutes: Sequence[float], busiest_day: int | None, width: int) -> Chart:
    """Seven bars, Monday first; the busiest day stands out."""
    canvas = _canvas(("daily", width), lambda: _Bars(width, DAILY_HEIGHT, 7, 0.62))
    colours = [ACCENT if day == busiest_day else BAR for day in range(7)]
    return canvas.render("daily", daily_minutes, colours)


def trend_chart(weekly_minutes: Sequence[float], width: int) -> Chart:
    """One bar per week, oldest first; this week (the last) stands out."""
    count = len(weekly_minutes)
    canvas = _canvas(("trend", width, count), lambda: _Bars(width, TREND_HEIGHT, count, 0.5))
    return canvas.render("trend", weekly_minutes, [QUIET] * (count - 1) + [ACCENT])


def heatmap_chart(heatmap: Sequence[Sequence[float]], width: int) -> Chart:
    """Seven rows (Monday on top) of 24 hour cells, brighter for more minutes."""
    canvas = _canvas(("heatmap", width), lambda: _Heatmap(width))
    return canvas.render(heatmap)


class _Canvas:
    """A figure filled edge to edge by one pair of axes with nothing drawn around them."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.figure = Figure(
            figsize=(width * SCALE / 100, height * SCALE / 100), dpi=100, facecolor=CARD
        )
        FigureCanvasAgg(self.figure)
        self.axes: Axes = self.figure.add_axes((0, 0, 1, 1))
        self.axes.set_axis_off()
        self.axes.set_facecolor(CARD)

    def png(self, name: str) -> Chart:
        """Draw the figure and encode it."""
        canvas = self.figure.canvas
        canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())  # type: ignore[attr-defined]
        buffer = io.BytesIO()
        # Flat colours compress well even at zlib's fastest level.
        image.convert("RGB").save(buffer, format="PNG", compress_level=1)
        return Chart(name, buffer.getvalue(), self.width, self.height)


class _Bars(_Canvas):
    def __init__(self, width: int, height: int, count: int, bar_width: float) -> None:
        super().__init__(width, height)
        self.bars = self.axes.bar(range(count), [0.0] * count, width=bar_width, linewidth=0)
        self.axes.set_xlim(-0.5, count - 0.5)

    def render(self, name: str, values: Sequence[float], colours: Sequence[str]) -> Chart:
        peak = max(values, default=0.0) or 1.0
        for bar, value, colour in zip(self.bars, values, colours, strict=True):
            # A small value still shows a sliver; zero shows nothing.
            bar.set_height(max(value, peak * 0.03))
            bar.set_visible(value > 0)
            bar.set_color(colour)
        self.axes.set_ylim(0, peak * 1.04)
        return self.png(name)


class _Heatmap(_Canvas):
    def __init__(self, width: int) -> None:
        super().__init__(width, round(width * 7 / 24))
        self.mesh = self.axes.pcolormesh(
            np.zeros((7, 24)), cmap=_HEAT, edgecolors=CARD, linewidth=1.5 * SCALE
        )
        self.axes.set_ylim(7, 0)

    def render(self, heatmap: Sequence[Sequence[float]]) -> Chart:
        cells = np.asarray(heatmap, dtype=float)
        self.mesh.set_array(cells.ravel())
        # A square-root scale, so an hour or two of listening is visible beside the peak.
        self.mesh.set_norm(PowerNorm(0.5, vmin=0, vmax=max(1.0, float(cells.max()))))
        return self.png("heatmap")


def _canvas(key: tuple[object, ...], build: Callable[[], C]) -> C:
    canvases: dict[tuple[object, ...], _Canvas] = _local.__dict__.setdefault("canvases", {})
    if key not in canvases:
        canvases[key] = build()
    return canvases[key]  # type: ignore[return-value]
