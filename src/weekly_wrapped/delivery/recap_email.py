"""The recap email: plain text and HTML with inline charts, ready for `deliver`.

The message is ``multipart/alternative``: a ``text/plain`` part, then a
``multipart/related`` holding the HTML and its PNG charts, referenced by Content-ID.
The HTML is a 600 px table layout with its CSS inlined; it is dark by design, so
clients in dark mode leave it alone, and it reads fully with images blocked.

List-Unsubscribe names only an endpoint that answers: the signed one-click link
(with List-Unsubscribe-Post, RFC 8058) once WRAPPED_PUBLIC_URL says where the web
service runs; until then a ``mailto:`` to the From address with the subject
"unsubscribe", and no List-Unsubscribe-Post, which RFC 8058 allows only with https.
The headers are written exactly as given, unfolded and unencoded: RFC 2369 and
RFC 8058 want a bare ``<https://…>``, and Python's default policy would otherwise
turn a long link into ``=?utf-8?q?…?=`` words that mail providers ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid, parseaddr

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery import charts
from weekly_wrapped.delivery.charts import Chart
from weekly_wrapped.delivery.errors import MailerConfigError, NotDeliverable
from weekly_wrapped.delivery.signing import unsubscribe_url
from weekly_wrapped.delivery.view import RecapView, recap_view, subject
from weekly_wrapped.insights import story as words
from weekly_wrapped.insights.models import ListeningStats, Story
from weekly_wrapped.insights.stats.totals import TREND_WEEKS
from weekly_wrapped.warehouse.users import InvalidUser, check_email, clean_name

CONTENT_WIDTH = 552
"""The 600 px column less its padding: the width of every chart."""
HEATMAP_WIDTH = 512
"""The heatmap leaves room on its left for the weekday labels."""

TEMPLATES = Environment(
    loader=PackageLoader("weekly_wrapped", "delivery/templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_inliner = css_inline.CSSInliner(keep_style_tags=True, keep_at_rules=True)
_WIRE_MAX = 900
"""A header line must stay under SMTP's 998 octets."""
UNSUBSCRIBE_SUBJECT = "unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    """How a reader turns the weekly email off: a link, or a mail to the sender."""

    url: str
    """The List-Unsubscribe target: ``https://…`` or ``mailto:…``."""
    by_mail: str | None = None
    """The address to write to when `url` is a ``mailto:``."""


class _WireHeader(UnstructuredHeader, BaseHeader):
    """A header written on one line exactly as given: never folded, never RFC 2047-encoded."""

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _wire_policy() -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post"):
        registry.map_to_type(name, _WireHeader)
    return default_policy.clone(header_factory=registry)


WIRE_POLICY = _wire_policy()
"""The default email policy, except that the list headers keep their wire form."""


def compose_recap(
    settings: Settings,
    key: bytes,
    *,
    user_key: int,
    name: str,
    email: str,
    stats: ListeningStats,
    story: Story,
    writer: str | None = None,
    with_charts: bool = True,
) -> EmailMessage:
    """One user's recap email. `deliver` stamps its Message-ID when it sends it.

    `writer` is the recap's (``offline``, ``gemini``, ``openai``): it tells the reader
    where unverified picks come from.
    """
    name = clean_name(name)
    view = recap_view(name, stats, story, writer)
    rendered = render_charts(stats) if with_charts and view.has_plays else []
    cids = {chart.name: make_msgid(chart.name, domain=_domain(settings)) for chart in rendered}
    unsubscribe = unsubscribe_for(settings, key, user_key)
    context: dict[str, object] = {
        "view": view,
        "unsubscribe": unsubscribe,
        "charts": _chart_slots(rendered, cids, stats),
    }
    message = _headers(settings, stats, _recipient(user_key, name, email), unsubscribe)
    message.set_content(TEMPLATES.get_template("recap.txt").render(context))
    message.add_alternative(render_html(context), subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # noqa: S101 - added just above
    for chart in rendered:
        html_part.add_related(
            chart.png, "image", "png", cid=cids[chart.name], filename=f"{chart.name}.png",
            disposition="inline",
        )  # fmt: skip
    return message


def render_charts(stats: ListeningStats) -> list[Chart]:
    """The week's charts; the trend only when there are earlier weeks to compare."""
    rendered = [
        charts.daily_chart(stats.daily_minutes, stats.busiest_day, CONTENT_WIDTH),
        charts.heatmap_chart(stats.heatmap, HEATMAP_WIDTH),
    ]
    if stats.trend_4w and len(stats.trend_4w) > 1:
        rendered.append(charts.trend_chart(stats.trend_4w, CONTENT_WIDTH))
    return rendered


def warm_up() -> None:
    """Build each chart's figure and compile the templates, once per process before its emails.

    A worker process of the Monday run would otherwise pay for both on its first user.
    """
    charts.daily_chart([0.0] * 7, None, CONTENT_WIDTH)
    charts.heatmap_chart([[0.0] * 24] * 7, HEATMAP_WIDTH)
    charts.trend_chart([0.0] * TREND_WEEKS, CONTENT_WIDTH)
    for name in ("recap.html", "recap.txt"):
        TEMPLATES.get_template(name)


def render_html(context: dict[str, object]) -> str:
    """The HTML body with its CSS inlined (media queries kept in a style tag)."""
    return str(_inliner.inline(TEMPLATES.get_template("recap.html").render(context)))


def unsubscribe_for(settings: Settings, key: bytes, user_key: int) -> Unsubscribe | None:
    """The signed link when WRAPPED_PUBLIC_URL is set; else a mail to the From address, if any."""
    if settings.public_url:
        return Unsubscribe(unsubscribe_url(settings.public_url, key, user_key))
    sender = parseaddr(settings.smtp_from)[1]
    if "@" not in sender:
        return None
    return Unsubscribe(f"mailto:{sender}?subject={UNSUBSCRIBE_SUBJECT}", by_mail=sender)


def _headers(
    settings: Settings, stats: ListeningStats, recipient: Address, unsubscribe: Unsubscribe | None
) -> EmailMessage:
    message = EmailMessage(policy=WIRE_POLICY)
    message["Subject"] = subject(stats.period_start)
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Date"] = format_datetime(datetime.now(UTC))
    message["List-Id"] = f"Weekly Wrapped <weekly.{_domain(settings)}>"
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{_wire_link(unsubscribe.url)}>"
        if unsubscribe.by_mail is None:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    return message


def _recipient(user_key: int, name: str, email: str) -> Address:
    """The To address; a stored name loses its control characters, a bad address is refused."""
    try:
        return Address(display_name=clean_name(name), addr_spec=check_email(email) or "")
    except (InvalidUser, HeaderParseError, ValueError) as exc:
        raise NotDeliverable(
            f"cannot address the email of user {user_key}: {exc}",
            hint=f"Fix it with `wrapped users update --user {user_key} --email ADDRESS`.",
        ) from None


def _wire_link(url: str) -> str:
    """`url` if it can stand in a header as it is: ASCII, no spaces or controls, not too long."""
    if url.isascii() and url.isprintable() and " " not in url and len(url) <= _WIRE_MAX:
        return url
    raise MailerConfigError(
        f"the unsubscribe link {url!r} cannot be written in an email header",
        hint="Set WRAPPED_PUBLIC_URL (or the address of WRAPPED_SMTP_FROM) to plain ASCII "
        "(punycode for international names).",
    )


def _chart_slots(
    rendered: Sequence[Chart], cids: dict[str, str], stats: ListeningStats
) -> dict[str, dict[str, object] | None]:
    """For each chart: its ``cid:`` source, size and alt text; None for a chart left out."""
    alts = _alt_texts(stats)
    slots: dict[str, dict[str, object] | None] = dict.fromkeys(("daily", "heatmap", "trend"))
    return slots | {
        chart.name: {
            "src": f"cid:{cids[chart.name].strip('<>')}",
            "width": chart.width,
            "height": chart.height,
            "alt": alts[chart.name],
        }
        for chart in rendered
    }


def _alt_texts(stats: ListeningStats) -> dict[str, str]:
    days = ", ".join(
        f"{words.day_name(day)} {words.minutes(m)}" for day, m in enumerate(stats.daily_minutes)
    )
    trend = ", ".join(words.minutes(m) for m in stats.trend_4w or [])
    peak = ""
    if stats.peak_hour is not None and stats.busiest_day is not None:
        peak = (
            f"; most on {words.day_name(stats.busiest_day)}s, around {words.clock(stats.peak_hour)}"
        )
    return {
        "daily": f"Bar chart of minutes per day: {days}.",
        "heatmap": f"Heatmap of your listening by weekday and hour{peak}.",
        "trend": f"Bar chart of minutes per week over the last four weeks, this week last: {trend}.",
    }


def _domain(settings: Settings) -> str:
    return parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "localhost"


__all__ = [
    "RecapView",
    "Unsubscribe",
    "compose_recap",
    "render_charts",
    "render_html",
    "warm_up",
]
