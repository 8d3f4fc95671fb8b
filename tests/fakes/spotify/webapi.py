"""The Web API calls Weekly Wrapped makes: /me, recently played, search, single-entity gets."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.fakes.spotify.catalog import (
    Catalog,
    album_json,
    artist_json,
    epoch_ms,
    played_at_text,
    simplified_album,
    track_json,
)
from tests.fakes.spotify.records import Grant, Listener, Play, Reply, api_error

WINDOW = 50
"""Recently-played only ever returns the last 50 plays."""
SEARCH_MAX = 10
"""Development mode caps search results at 10 per type."""


class WebApi:
    """Answers ``/v1/...`` for the listener whose bearer token came with the request."""

    catalog: Catalog
    clock: Callable[[], datetime]
    dev_mode: bool
    listeners: dict[str, Listener]
    removed_fields: set[str]
    _access: dict[str, Grant]
    _lock: threading.RLock

    def _api(self, path: str, query: dict[str, str], authorization: str | None) -> Reply:
        grant = self._access.get(bearer(authorization) or "")
        if grant is None:
            return api_error(401, "Invalid access token")
        if grant.expires_at <= self.clock():
            return api_error(401, "The access token expired")
        listener = self.listeners[grant.user]
        reply = self._api_route(path, query, listener, grant)
        if reply.status == 200 and self.removed_fields:
            reply.body = without(reply.body, self.removed_fields)
        return reply

    def _api_route(
        self, path: str, query: dict[str, str], listener: Listener, grant: Grant
    ) -> Reply:
        if path == "/me":
            return Reply(200, self._me(listener, grant))
        if path == "/me/player/recently-played":
            if "user-read-recently-played" not in grant.scope.split():
                return api_error(403, "Insufficient client scope")
            return self._recently_played(listener, query)
        if path == "/search":
            return self._search(query)
        match = re.fullmatch(r"/(tracks|artists|albums)/([0-9A-Za-z]+)", path)
        if match:
            return self._one(match.group(1), match.group(2))
        return api_error(404, "Service not found")

    def _me(self, listener: Listener, grant: Grant) -> dict[str, Any]:
        body: dict[str, Any] = {
            "display_name": listener.display_name,
            "external_urls": {"spotify": f"https://open.spotify.com/user/{listener.id}"},
            "href": f"https://api.spotify.com/v1/users/{listener.id}",
            "id": listener.id,
            "images": [],
            "type": "user",
            "uri": f"spotify:user:{listener.id}",
        }
        if "user-read-private" in grant.scope.split():
            body |= {"country": listener.country, "product": "premium"}
        if not self.dev_mode:
            body["followers"] = {"href": None, "total": 3}
        return body

    def _recently_played(self, listener: Listener, query: dict[str, str]) -> Reply:
        limit = int(query.get("limit", "20"))
        if not 1 <= limit <= 50:
            return api_error(400, "Invalid limit")
        if "after" in query and "before" in query:
            return api_error(400, "Only one of after and before may be given")
        now = self.clock()
        window = [p for p in listener.plays if p.played_at <= now][-WINDOW:]
        if "after" in query:
            chosen = [p for p in window if epoch_ms(p.played_at) > int(query["after"])][:limit]
        elif "before" in query:
            chosen = [p for p in window if epoch_ms(p.played_at) < int(query["before"])][-limit:]
        else:
            chosen = window[-limit:]
        return Reply(200, self._history_page(window, chosen, limit))

    def _history_page(self, window: list[Play], chosen: list[Play], limit: int) -> dict[str, Any]:
        base = "https://api.spotify.com/v1/me/player/recently-played"
        items = [self._history_item(p) for p in reversed(chosen)]
        oldest = epoch_ms(chosen[0].played_at) if chosen else None
        older = oldest is not None and any(epoch_ms(p.played_at) < oldest for p in window)
        return {
            "items": items,
            "next": f"{base}?before={oldest}&limit={limit}" if older else None,
            "cursors": (
                {"after": str(epoch_ms(chosen[-1].played_at)), "before": str(oldest)}
                if chosen
                else None
            ),
            "limit": limit,
            "href": f"{base}?limit={limit}",
        }

    def _history_item(self, play: Play) -> dict[str, Any]:
        track = self.catalog.tracks[play.track_id]
        return {
            "track": track_json(self.catalog, track, self.dev_mode),
            "played_at": played_at_text(play.played_at),
            "context": play.context,
        }

    def _search(self, query: dict[str, str]) -> Reply:
        limit = int(query.get("limit", "5"))
        if not 1 <= limit <= SEARCH_MAX:
            return api_error(400, "Invalid limit")
        if not query.get("q") or not query.get("type"):
            return api_error(400, "No search query")
        offset = int(query.get("offset", "0"))
        wanted = _search_terms(query["q"])
        body: dict[str, Any] = {}
        for kind in query["type"].split(","):
            found = self._matches(kind, wanted)
            body[kind + "s"] = _paging(
                f"https://api.spotify.com/v1/search?type={kind}", found, limit, offset
            )
        return Reply(200, body)

    def _matches(self, kind: str, wanted: dict[str, str]) -> list[dict[str, Any]]:
        catalog, dev = self.catalog, self.dev_mode
        if kind == "track":
            return [
                track_json(catalog, t, dev)
                for t in catalog.tracks.values()
                if _hit(wanted, t.name, [catalog.artists[a].name for a in t.artist_ids])
            ]
        if kind == "artist":
            return [
                artist_json(a, dev)
                for a in catalog.artists.values()
                if _hit(wanted, a.name, [a.name], name_field="artist")
            ]
        if kind == "album":
            return [
                simplified_album(catalog, a, dev)
                for a in catalog.albums.values()
                if _hit(wanted, a.name, [catalog.artists[x].name for x in a.artist_ids], "album")
            ]
        return []

    def _one(self, kind: str, id_: str) -> Reply:
        catalog, dev = self.catalog, self.dev_mode
        if kind == "tracks" and id_ in catalog.tracks:
            return Reply(200, track_json(catalog, catalog.tracks[id_], dev))
        if kind == "artists" and id_ in catalog.artists:
            return Reply(200, artist_json(catalog.artists[id_], dev))
        if kind == "albums" and id_ in catalog.albums:
            return Reply(200, album_json(catalog, catalog.albums[id_], dev))
        return api_error(404, "Resource not found")


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization[7:]
    return None


_FILTER = re.compile(r'(track|artist|album):(?:"([^"]*)"|(\S+))')


def _search_terms(q: str) -> dict[str, str]:
    """``track:"x" artist:y free text`` → {"track": "x", "artist": "y", "text": "free text"}."""
    terms = {m.group(1): (m.group(2) or m.group(3)).casefold() for m in _FILTER.finditer(q)}
    text = _FILTER.sub("", q).strip().casefold()
    if text:
        terms["text"] = text
    return terms


def _hit(wanted: dict[str, str], name: str, artists: list[str], name_field: str = "track") -> bool:
    """Whether an item matches every search term, as substrings, ignoring case."""
    name_cf, artists_cf = name.casefold(), [a.casefold() for a in artists]
    for key, value in wanted.items():
        if key == name_field and value not in name_cf:
            return False
        if key == "artist" and not any(value in a for a in artists_cf):
            return False
        if key == "text" and value not in name_cf and not any(value in a for a in artists_cf):
            return False
        if key not in (name_field, "artist", "text"):
            return False
    return True


def _paging(href: str, items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return {
        "href": f"{href}&offset={offset}&limit={limit}",
        "items": page,
        "limit": limit,
        "next": f"{href}&offset={offset + limit}&limit={limit}" if more else None,
        "offset": offset,
        "previous": f"{href}&offset={max(0, offset - limit)}&limit={limit}" if offset else None,
        "total": len(items),
    }


def without(value: Any, names: set[str]) -> Any:
    """`value` with every dictionary key in `names` removed, at any depth."""
    if isinstance(value, dict):
        return {k: without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [without(v, names) for v in value]
    return value
