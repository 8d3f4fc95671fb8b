"""The recap charts: real PNGs of the right size, showing the data they are given."""

from __future__ import annotations

import io

from PIL import Image

from weekly_wrapped.delivery import charts

CARD = (0x1B, 0x1B, 0x24)
ACCENT = (0x1E, 0xD7, 0x60)
BAR = (0x8B, 0x7C, 0xF6)


def pixels(chart: charts.Chart) -> Image.Image:
    image = Image.open(io.BytesIO(chart.png))
    assert image.format == "PNG"
    return image.convert("RGB")


def column_colours(image: Image.Image, x: int) -> set[tuple[int, int, int]]:
    return {image.getpixel((x, y)) for y in range(image.height)}  # type: ignore[misc]


def slot_centre(image: Image.Image, index: int, count: int) -> int:
    return int((index + 0.5) * image.width / count)


def test_the_daily_chart_has_one_bar_per_day_and_the_busiest_stands_out() -> None:
    chart = charts.daily_chart([30, 0, 12, 80, 5, 44, 61], busiest_day=3, width=552)
    image = pixels(chart)

    assert (chart.width, chart.height) == (552, charts.DAILY_HEIGHT)
    assert image.size == (552 * charts.SCALE, charts.DAILY_HEIGHT * charts.SCALE)
    assert ACCENT in column_colours(image, slot_centre(image, 3, 7))
    assert BAR in column_colours(image, slot_centre(image, 0, 7))
    assert column_colours(image, slot_centre(image, 1, 7)) == {CARD}, "no minutes, no bar"


def test_a_taller_value_draws_a_taller_bar() -> None:
    image = pixels(charts.daily_chart([10, 40, 0, 0, 0, 0, 0], busiest_day=1, width=552))

    def bar_height(day: int) -> int:
        x = slot_centre(image, day, 7)
        return sum(1 for y in range(image.height) if image.getpixel((x, y)) != CARD)

    assert bar_height(1) > image.height * 0.9, "the tallest bar nearly fills the chart"
    assert abs(bar_height(0) * 4 - bar_height(1)) <= 4


def test_reused_figures_draw_each_emails_own_data() -> None:
    first = charts.daily_chart([10, 20, 30, 40, 50, 60, 70], busiest_day=6, width=552)
    second = charts.daily_chart([70, 60, 50, 40, 30, 20, 10], busiest_day=0, width=552)
    again = charts.daily_chart([10, 20, 30, 40, 50, 60, 70], busiest_day=6, width=552)

    assert first.png != second.png
    assert first.png == again.png


def test_the_heatmap_lights_up_the_hour_with_the_most_listening() -> None:
    heatmap = [[0.0] * 24 for _ in range(7)]
    heatmap[4][21] = 95.0  # Friday, 9 pm
    heatmap[0][8] = 3.0
    chart = charts.heatmap_chart(heatmap, width=512)
    image = pixels(chart)
    cell_w, cell_h = image.width / 24, image.height / 7

    def cell(day: int, hour: int) -> tuple[int, int, int]:
        return image.getpixel((int((hour + 0.5) * cell_w), int((day + 0.5) * cell_h)))  # type: ignore[return-value]

    assert cell(4, 21) == ACCENT
    assert cell(0, 8) != cell(0, 9), "a little listening still shows"
    assert cell(6, 3) == cell(2, 14), "empty hours all look alike"
    assert chart.height == round(512 * 7 / 24)


def test_the_trend_highlights_this_week_last() -> None:
    image = pixels(charts.trend_chart([300, 250, 410, 263], width=552))
    assert ACCENT in column_colours(image, slot_centre(image, 3, 4))
    assert ACCENT not in column_colours(image, slot_centre(image, 2, 4))
