"""The OpenAPI 3.1 document of `/api/v1`, its schemas generated from `web.models`."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from weekly_wrapped.web.models import RESPONSES

REF = "#/components/schemas/{model}"
DAY = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
WEEK = {"type": "string", "pattern": r"^\d{4}-W\d{2}$", "examples": ["2026-W47"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {400: "The request is not valid; the message says why.",
             401: "Not logged in.", 404: "Not found (or not yours).",
             503: "The database is busy or unreachable; try again."}  # fmt: skip
    return {str(status): _json("Error", words[status]) for status in statuses}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _get(summary: str, name: str, *errors: int, params: list[dict[str, Any]] | None = None,
         ) -> dict[str, Any]:  # fmt: skip
    return {"get": {
        "summary": summary,
        "parameters": params or [],
        "responses": {"200": _json(name, summary), **_errors(401, 503, *errors)},
    }}  # fmt: skip


@cache
def document() -> dict[str, Any]:
    """The whole document (built once)."""
    _, schemas = models_json_schema(
        [(model, "serialization") for model in RESPONSES], ref_template=REF
    )
    period = [
        _query("from", DAY, "First local day (YYYY-MM-DD), included. Default: the first play."),
        _query("to", DAY, "Last local day (YYYY-MM-DD), included. Default: today."),
    ]
    week = {"name": "week", "in": "path", "required": True, "schema": WEEK}
    upload = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Weekly Wrapped API",
            "version": "1",
            "description": "The logged-in user's own listening: profile, weekly recaps, stats "
            "over any days, and plays. Log in on the web first; the session cookie "
            "authenticates every call.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "wrapped_session"}
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/me": _get("The logged-in user", "Me"),
            "/api/v1/weeks/{week}/recap": _get(
                "A week's recap (ISO week in the user's timezone)",
                "RecapDocument",
                400,
                404,
                params=[week],
            ),
            "/api/v1/stats": _get(
                "Stats over a range of local days", "ListeningStats", 400, params=period
            ),
            "/api/v1/plays": _get(
                "Plays, oldest first, a page at a time",
                "PlaysPage",
                400,
                params=[
                    *period,
                    _query("cursor", {"type": "string"}, "next_cursor of the previous page."),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500},
                        "Plays per page (default 100).",
                    ),
                ],
            ),  # fmt: skip
            "/api/v1/imports/{upload_id}": _get(
                "An uploaded export's import progress", "UploadStatus", 404, params=[upload]
            ),
        },
    }
