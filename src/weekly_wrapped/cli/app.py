"""The `wrapped` Typer app and what its commands share: consoles, options, the engine."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from weekly_wrapped.errors import UnknownUser

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weekly_wrapped.config import Settings

# Commands import the warehouse, the sources and the settings inside their bodies, never
# at the top: `wrapped --help` and every command would otherwise pay for all of them.

app = typer.Typer(
    help="Weekly Wrapped: your Spotify listening, recapped every week.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _start(ctx: typer.Context) -> None:
    # Before every command: the settings are read (a bad one stops it before any work),
    # and logging is set up once, from WRAPPED_LOG_LEVEL and WRAPPED_LOG_FORMAT. Help
    # and shell completion need neither, and work even with a bad setting.
    if ctx.resilient_parsing or not set(ctx.help_option_names).isdisjoint(sys.argv[1:]):
        return
    from weekly_wrapped.logs import setup_logging

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)


_STEERING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL: what a terminal obeys instead of showing.
Tab and newline stay."""
_STEERING_IN_JSON = re.compile(r"[\x7f-\x9f]")
"""What JSON leaves raw inside strings (it escapes C0 itself)."""
_DIGITS = re.compile(r"[+-]?[0-9]+")
USER_ID_MAX = 2**31 - 1
"""The largest id a user can have: the warehouse's integer key."""


def shown(text: str) -> str:
    """`text` without the control characters a terminal would obey."""
    return _STEERING.sub("", text)


def json_for_terminal(document: str) -> str:
    """A JSON document with DEL and C1 controls escaped as well: the same values, safe to print."""
    return _STEERING_IN_JSON.sub(lambda found: f"\\u{ord(found[0]):04x}", document)


class SafeConsole(Console):
    """A console that writes no control character it did not make itself.

    Names (a user's, an artist's, a track's) are data: an escape sequence in one must
    never clear the screen, fake a hyperlink or recolour the terminal. Every command
    prints through one of these, so no printer has to remember.
    """

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            yield segment if segment.control else _safe(segment)


def _safe(segment: Segment) -> Segment:
    style = segment.style
    if style is not None and style.link and (_STEERING.search(style.link) or " " in style.link):
        style = style.update_link(None)
    return Segment(shown(segment.text), style)


out = SafeConsole()
err = SafeConsole(stderr=True)


def user_id(text: str) -> int:
    """A `--user` value; one clear line when it cannot be anyone's id."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        raise UnknownUser(f"not a user id: {text!r}")
    if len(text) > 12 or not 1 <= int(text) <= USER_ID_MAX:
        raise UnknownUser(f"no user with id {text}")
    return int(text)


UserOption = Annotated[
    int,
    typer.Option("--user", "-u", parser=user_id, help="User id (see `wrapped users list`)."),
]


def get_settings() -> Settings:
    """The settings, read once: imported on first use, so `--help` never builds the model."""
    from weekly_wrapped import config

    return config.get_settings()


def open_engine(settings: Settings, *, check: bool = True, **pool: int) -> Engine:
    """The warehouse engine; with `check`, a clear error if it is missing or outdated.

    `pool` sizes its connection pool (``pool_size``, ``max_overflow``).
    """
    from weekly_wrapped.warehouse import db

    return db.open_warehouse(settings, check=check, **pool)
