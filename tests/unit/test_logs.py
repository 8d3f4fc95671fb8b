"""Logging as set up once per process: levels, text or JSON lines, secrets masked."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from weekly_wrapped.logs import setup_logging

SECRET = "BQ-access-token-xyz"  # noqa: S105


def test_json_lines_carry_time_level_logger_message_and_extra_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json")
    logging.getLogger("weekly_wrapped.poller").info(
        "polled %s with %s", "ada", SecretStr(SECRET), extra={"user": 7, "grant": SecretStr(SECRET)}
    )
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert list(entry)[:4] == ["time", "level", "logger", "message"]
    assert entry["level"] == "INFO" and entry["logger"] == "weekly_wrapped.poller"
    assert entry["message"] == "polled ada with **********"
    assert entry["user"] == 7 and entry["grant"] == "**********"
    assert SECRET not in line


def test_other_libraries_speak_from_warning_unless_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO")
    logging.getLogger("urllib3.connectionpool").info("GET /v1/me")
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    logging.getLogger("weekly_wrapped.retry").info("try 2 in 0.50 s")
    assert capsys.readouterr().err.splitlines() == [
        "WARNING urllib3.connectionpool: retrying",
        "INFO weekly_wrapped.retry: try 2 in 0.50 s",
    ]
    setup_logging("DEBUG")
    logging.getLogger("urllib3.connectionpool").debug("GET /v1/me")
    assert capsys.readouterr().err == "DEBUG urllib3.connectionpool: GET /v1/me\n"


def test_setting_up_again_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("WARNING")
    setup_logging("WARNING", "json")
    logging.getLogger("weekly_wrapped").warning("once")
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "once"
