"""The `wrapped` command line: thin commands over the library, errors as one clear line.

Each area registers its commands on the shared app in its own module.
"""

from __future__ import annotations

import sys

from rich.text import Text

from weekly_wrapped.cli import (  # noqa: F401  (registers commands)
    imports,
    process,
    recap,
    send,
    serve,
    spotify,
    stats,
    warehouse,
)
from weekly_wrapped.cli.app import app, err
from weekly_wrapped.errors import WrappedError

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; a `WrappedError` becomes one line and a hint, never a traceback."""
    try:
        app()
    except WrappedError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(Text.assemble(("hint: ", "dim"), exc.hint), highlight=False, soft_wrap=True)
        sys.exit(75 if exc.transient else 1)


if __name__ == "__main__":
    main()
