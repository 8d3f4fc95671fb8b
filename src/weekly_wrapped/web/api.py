"""The JSON API, `/api/v1`: the logged-in user's own profile, recaps, stats and plays.

Every answer is built through a model of `web.models`, which also generates the
OpenAPI document at `/api/v1/openapi.json`; errors are JSON too (`Error`).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, jsonify, request
from pydantic import BaseModel

from weekly_wrapped.insights.plays import list_plays
from weekly_wrapped.insights.stats import InvalidPeriod
from weekly_wrapped.web import models, pages
from weekly_wrapped.web.openapi import document
from weekly_wrapped.web.session import login_required, me
from weekly_wrapped.web.state import request_conn, web_state
from weekly_wrapped.weeks import parse_day, parse_week

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PAGE_MAX = 500


def _answer(body: BaseModel) -> Response:
    return Response(body.model_dump_json(), mimetype="application/json")


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@bp.get("/me")
@login_required
def who() -> Response:
    user = me()
    return _answer(models.Me(
        id=user.user_key, name=user.display_name, email=user.email, timezone=user.timezone,
        weekly_email=user.weekly_email, auth_status=user.auth_status,
        spotify_user_id=user.spotify_user_id,
    ))  # fmt: skip


@bp.get("/weeks/<week>/recap")
@login_required
def recap(week: str) -> Response:
    """A week's recap: stored when it was built after the week ended, else computed now."""
    user, now = me(), web_state().clock()
    monday = parse_week(week)
    if monday > pages.this_monday(user, now):
        abort(404, "That week has not started yet.")
    return Response(pages.week_json(request_conn(), user, monday, now), mimetype="application/json")


@bp.get("/stats")
@login_required
def stats() -> Response:
    """Stats over `from`–`to` (local days, both included); default: all time."""
    user, now = me(), web_state().clock()
    first, last = _days()
    numbers = pages.period_stats(request_conn(), user, first, last or pages.today(user, now), now)
    return _answer(numbers)


@bp.get("/plays")
@login_required
def plays() -> Response:
    """Plays that ended within `from`–`to`, oldest first, a page at a time."""
    user = me()
    first, last = _days()
    end = (last or pages.today(user, web_state().clock())) + timedelta(days=1)
    limit = _limit()
    lines, cursor = list_plays(
        request_conn(),
        user.user_key,
        first or date(2006, 1, 1),
        end,
        request.args.get("cursor"),
        limit,
    )
    page = models.PlaysPage(
        plays=[models.Play(id=line.play_id, **_fields(line)) for line in lines],
        next_cursor=cursor,
    )
    return _answer(page)


@bp.get("/imports/<upload_id>")
@login_required
def upload(upload_id: str) -> Response:
    """An upload's import progress; someone else's upload is not found."""
    found = web_state().uploads.get(me().user_key, upload_id)
    if found is None:
        abort(404, "No such upload.")
    return _answer(models.UploadStatus.model_validate(found.to_json()))


def _fields(line: object) -> dict[str, object]:
    names = ("played_at", "track", "artist", "album", "ms_played", "ms_played_estimated",
             "source", "kind", "skipped", "incognito")  # fmt: skip
    return {name: getattr(line, name) for name in names}


def _days() -> tuple[date | None, date | None]:
    first = request.args.get("from")
    last = request.args.get("to")
    first_day = parse_day(first, "from") if first else None
    last_day = parse_day(last, "to") if last else None
    if first_day and last_day and last_day < first_day:
        raise InvalidPeriod(f"to {last_day} comes before from {first_day}")
    return first_day, last_day


def _limit() -> int:
    text = request.args.get("limit", "100")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= PAGE_MAX:
        abort(400, f"limit must be a whole number from 1 to {PAGE_MAX}.")
    return int(text)
