"""The Flask app factory: settings in, an app with its blueprints, security and errors out."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import TransientError, UnknownUser, WrappedError
from weekly_wrapped.web import api, auth, dashboard, health, unsubscribe
from weekly_wrapped.web.session import current_user
from weekly_wrapped.web.state import (
    Clock,
    WebState,
    allowed_ids,
    close_request_conn,
    derived_key,
    utcnow,
    web_state,
)
from weekly_wrapped.web.uploads import Uploads

SESSION_DAYS = 30


def create_app(settings: Settings, *, engine: Engine | None = None, clock: Clock = utcnow) -> Flask:
    """The web service for `settings`; `engine` defaults to WRAPPED_DATABASE_URL's."""
    app = Flask(__name__)
    engine = engine or _engine(settings)
    app.config.update(
        SECRET_KEY=derived_key(settings, "flask-session"),
        SESSION_COOKIE_NAME="wrapped_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies(settings),
        PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS),
        MAX_CONTENT_LENGTH=settings.web_upload_max_mb << 20,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.extensions["wrapped"] = WebState(
        settings, engine, Uploads(engine, settings), clock, allowed_ids(settings)
    )
    for blueprint in (auth.bp, dashboard.bp, unsubscribe.bp, api.bp, health.bp):
        app.register_blueprint(blueprint)
    csrf = CSRFProtect(app)
    csrf.exempt(unsubscribe.one_click)  # RFC 8058: the signed link is its own proof
    csrf.exempt(api.bp)  # reads only, and answers JSON to the session's own user
    _limit_logins(app, settings)
    _template_globals(app)
    _security_headers(app, settings)
    _errors(app)
    close_request_conn(app)
    return app


def secure_cookies(settings: Settings) -> bool:
    """Whether the session cookie is Secure: behind https, or when forced."""
    if settings.web_secure_cookies != "auto":
        return settings.web_secure_cookies == "always"
    return urlsplit(settings.public_url or "").scheme == "https"


def _engine(settings: Settings) -> Engine:
    from weekly_wrapped.warehouse import db

    return db.open_warehouse(settings)


def _template_globals(app: Flask) -> None:
    @app.context_processor
    def globals_() -> dict[str, object]:
        return {"user": current_user(), "now_year": web_state().clock().year}


def _limit_logins(app: Flask, settings: Settings) -> None:
    """Login attempts per client address: starting one, and Spotify's answer to it."""
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    for endpoint in ("auth.start", "auth.callback"):
        view = app.view_functions[endpoint]
        limited = limiter.limit(settings.web_login_rate)(view)
        app.view_functions[endpoint] = limited  # type: ignore[assignment]


def _security_headers(app: Flask, settings: Settings) -> None:
    accounts = urlsplit(settings.spotify_accounts_url)
    policy = "; ".join(
        (
            "default-src 'self'",
            "img-src 'self' https: data:",
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action 'self' {accounts.scheme}://{accounts.netloc}",
            "frame-ancestors 'none'",
        )
    )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str) -> tuple[Response | str, int]:
    """A JSON error under /api/, else a page; the message says what to do, never a traceback."""
    if _wants_json():
        return jsonify(error={"status": status, "message": message}), status
    return render_template("error.html", status=status, message=message), status


def _errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = app.make_response(error_response(exc.code or 500, exc.description or exc.name))
        raised = exc.get_response()
        for name in ("Allow", "Retry-After"):
            if name in raised.headers:
                response.headers[name] = raised.headers[name]
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
        return error_response(400, f"The form was refused: {exc.description} Reload and retry.")

    @app.errorhandler(WrappedError)
    def wrapped_error(exc: WrappedError) -> tuple[Response | str, int]:
        if isinstance(exc, UnknownUser):
            return error_response(404, "Not found.")
        status = 503 if isinstance(exc, TransientError) else 400
        hint = f" {exc.hint}" if exc.hint and status == 400 else ""
        return error_response(status, f"{exc}{hint}")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        app.logger.exception("unexpected error on %s", request.path)
        return error_response(500, "Something went wrong on our side; it has been logged.")
