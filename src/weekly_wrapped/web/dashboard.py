"""The dashboard: this week and any past week, all time, a year, uploads, settings."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.web import charts, pages
from weekly_wrapped.web.auth import save_details
from weekly_wrapped.web.session import current_user, login_required, me
from weekly_wrapped.web.state import web_state
from weekly_wrapped.weeks import FIRST_YEAR, InvalidWeek, parse_week, week_label

bp = Blueprint("dashboard", __name__)
UPLOAD_SUFFIXES = (".zip", ".json")


@bp.get("/")
def home() -> Response | str:
    """This week for a logged-in user; the login page for anyone else."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    monday = pages.this_monday(user, web_state().clock())
    return redirect(url_for("dashboard.week", week=week_label(monday)))


@bp.get("/weeks/<week>")
@login_required
def week(week: str) -> str:
    """One week: the story, the numbers, the charts, the top lists, coverage gaps."""
    user, now = me(), web_state().clock()
    monday = _week_or_404(week)
    if monday > pages.this_monday(user, now):
        abort(404, "That week has not started yet.")
    with web_state().engine.connect() as conn:
        page = pages.week_page(conn, user, monday, now)
    return render_template("week.html", user=user, page=page, view=page.view)


@bp.get("/all-time")
@login_required
def all_time() -> str:
    user, now = me(), web_state().clock()
    with web_state().engine.connect() as conn:
        stats = pages.period_stats(conn, user, None, pages.today(user, now), now)
    return _period_page(stats, "All time")


@bp.get("/years/<int:year>")
@login_required
def year(year: int) -> str:
    """A year in review: the "Wrapped" page."""
    user, now = me(), web_state().clock()
    today = pages.today(user, now)
    if not FIRST_YEAR <= year <= today.year:
        abort(404, "No such year to look back on.")
    last = min(date(year, 12, 31), today)
    with web_state().engine.connect() as conn:
        stats = pages.period_stats(conn, user, date(year, 1, 1), last, now)
    return _period_page(stats, f"{year} Wrapped")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> tuple[str, int] | Response:
    """Email, timezone and the weekly-email opt-in."""
    error = None
    if request.method == "POST":
        error = save_details(first=False)
        if error is None:
            return redirect(url_for("dashboard.settings", saved=1))
    saved = request.args.get("saved") == "1"
    page = render_template("settings.html", user=me(), error=error, saved=saved)
    return page, 400 if error else 200


@bp.route("/import", methods=["GET", "POST"])
@login_required
def upload() -> tuple[str, int] | Response:
    """Upload a privacy export (zip or JSON file); it imports in the background."""
    uploads = web_state().uploads
    if request.method == "POST":
        sent = request.files.get("export")
        name = secure_filename(sent.filename or "") if sent else ""
        if sent is None or not name.lower().endswith(UPLOAD_SUFFIXES):
            page = render_template("upload.html", user=me(), upload=None,
                                   error="Choose the export's .zip (or one of its .json files).")  # fmt: skip
            return page, 400
        folder = uploads.new_folder(me().user_key)
        saved = folder / name
        sent.save(saved)
        started = uploads.start(me().user_key, saved, name)
        return redirect(url_for("dashboard.upload", upload=started.upload_id))
    upload_id = request.args.get("upload")
    shown = uploads.get(me().user_key, upload_id) if upload_id else None
    if upload_id and shown is None:
        abort(404, "No such upload.")
    return render_template("upload.html", user=me(), upload=shown, error=None), 200


@bp.get("/import/<upload_id>/progress")
@login_required
def upload_progress(upload_id: str) -> Response:
    """The upload's progress as JSON, for the page's progress bar."""
    shown = web_state().uploads.get(me().user_key, upload_id)
    if shown is None:
        abort(404, "No such upload.")
    return jsonify(shown.to_json())


def _period_page(stats: ListeningStats, title: str) -> str:
    return render_template(
        "period.html",
        user=me(),
        stats=stats,
        title=title,
        daily=charts.daily_chart(stats.daily_minutes, stats.busiest_day),
        heatmap=charts.heatmap_chart(stats.heatmap),
    )


def _week_or_404(text: str) -> date:
    try:
        return parse_week(text)
    except InvalidWeek:
        abort(404, f"Not a week: weeks look like {week_label(date.today())}.")
