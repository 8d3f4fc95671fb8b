"""The accounts service: ``/authorize`` (consent as the chosen listener) and ``/api/token``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.fakes.spotify.records import Code, Grant, Reply, oauth_error


class Accounts:
    """Authorization code with PKCE, refresh (rotating), ``invalid_grant`` once revoked."""

    client_id: str
    client_secret: str | None
    redirect_uris: set[str]
    clock: Callable[[], datetime]
    consenting: str | None
    deny_consent: bool
    rotate_refresh_tokens: bool
    _codes: dict[str, Code]
    _access: dict[str, Grant]
    _refresh: dict[str, Grant]
    _lock: threading.RLock

    def _authorize(self, query: dict[str, str]) -> Reply:
        if query.get("client_id") != self.client_id:
            return Reply(400, raw=b"INVALID_CLIENT: Invalid client")
        redirect = query.get("redirect_uri", "")
        if redirect not in self.redirect_uris:
            return Reply(400, raw=b"INVALID_CLIENT: Invalid redirect URI")
        if query.get("response_type") != "code":
            return Reply(400, raw=b"unsupported_response_type")
        challenge = query.get("code_challenge")
        if challenge is not None and query.get("code_challenge_method") != "S256":
            return Reply(400, raw=b"INVALID_REQUEST: code_challenge_method must be S256")
        answer = {"state": query["state"]} if "state" in query else {}
        if self.deny_consent or self.consenting is None:
            return _redirect(redirect, {"error": "access_denied", **answer})
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = Code(
                self.consenting,
                redirect,
                challenge,
                query.get("scope", ""),
                self.clock() + timedelta(minutes=10),
            )
        return _redirect(redirect, {"code": code, **answer})

    def _token(self, form: dict[str, str], authorization: str | None) -> Reply:
        client = self._client_of(form, authorization)
        if client is not None:
            return client
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form, confidential=authorization is not None)
        if grant_type == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""))
        return oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _client_of(self, form: dict[str, str], authorization: str | None) -> Reply | None:
        if authorization is not None and authorization.startswith("Basic "):
            pair = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = pair.partition(":")
            if client_id != self.client_id or secret != self.client_secret:
                return oauth_error("invalid_client", "Invalid client secret")
            return None
        if form.get("client_id") != self.client_id:
            return oauth_error("invalid_client", "Invalid client")
        return None

    def _exchange(self, form: dict[str, str], confidential: bool) -> Reply:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.expires_at < self.clock():
            return oauth_error("invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error("invalid_grant", "Invalid redirect URI")
        verifier = form.get("code_verifier")
        if code.challenge is None and not confidential:
            return oauth_error("invalid_request", "code_verifier required")
        if code.challenge is not None and (
            verifier is None or not hmac.compare_digest(s256(verifier), code.challenge)
        ):
            return oauth_error("invalid_grant", "code_verifier was incorrect")
        return Reply(200, self._issue(code.user, code.scope, with_refresh=True))

    def _refresh_grant(self, refresh_token: str) -> Reply:
        with self._lock:
            grant = self._refresh.get(refresh_token)
            if grant is None:
                return oauth_error("invalid_grant", "Refresh token revoked")
            if self.rotate_refresh_tokens:
                del self._refresh[refresh_token]
            return Reply(200, self._issue(grant.user, grant.scope, self.rotate_refresh_tokens))

    def _issue(self, user: str, scope: str, with_refresh: bool) -> dict[str, Any]:
        access = "BQ" + secrets.token_urlsafe(60)
        now = self.clock()
        with self._lock:
            self._access[access] = Grant(user, scope, now + timedelta(hours=1))
            body: dict[str, Any] = {
                "access_token": access,
                "token_type": "Bearer",
                "scope": scope,
                "expires_in": 3600,
            }
            if with_refresh:
                refresh = "AQ" + secrets.token_urlsafe(90)
                self._refresh[refresh] = Grant(user, scope, now + timedelta(days=182))
                body["refresh_token"] = refresh
        return body


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _redirect(uri: str, params: dict[str, str]) -> Reply:
    return Reply(302, headers={"Location": f"{uri}?{urlencode(params)}"}, raw=b"")
