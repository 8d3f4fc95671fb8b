"""The `wrapped` Typer app and what its commands share: consoles, options, the engine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.warehouse import db

app = typer.Typer(
    help="Weekly Wrapped: your Spotify listening, recapped every week.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

out = Console()
err = Console(stderr=True)

UserOption = Annotated[
    int, typer.Option("--user", "-u", help="User id (see `wrapped users list`).")
]


def open_engine(settings: Settings, *, check: bool = True) -> Engine:
    """The warehouse engine; with `check`, a clear error if it is missing or outdated."""
    engine = db.connect(settings.db_url, busy_timeout_s=settings.database_busy_timeout_s)
    if check:
        db.require_current(engine)
    return engine
