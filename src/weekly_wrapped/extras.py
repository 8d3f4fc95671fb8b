"""Optional extras: a missing one is one line with the command that installs it.

postgres, kafka, spark, llm and web are extras of the package. Code that needs one
imports its module through `require`, so a user who lacks it reads
``pip install 'weekly-wrapped[postgres]'``, never a ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

from weekly_wrapped.errors import ConfigError

Extra = Literal["postgres", "kafka", "spark", "llm", "web"]


class ExtraMissing(ConfigError):
    """A setting needs an optional extra that is not installed; the message says how to add it."""

    hint = ""  # the message itself names the command to run


def require(extra: Extra, module: str, *, needed_by: str) -> ModuleType:
    """Import `module` of the optional `extra`, which `needed_by` (a setting) needs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExtraMissing(
            f"{needed_by} needs {module}, which is not installed: "
            f"pip install 'weekly-wrapped[{extra}]'"
        ) from None
