"""Run the fake Spotify on its own: ``python -m tests.fakes.spotify --port 8900``.

It prints the settings that point Weekly Wrapped at it. Add plays with
``curl -X POST localhost:8900/_fake/listen -d '{"user": "*", "count": 20}'``, and
misbehaviour with ``/_fake/fault`` (``{"path": "/v1/me/player", "status": 429,
"retry_after": 7200}``); ``/_fake/issue`` hands out tokens, ``/_fake/stats`` counts requests.
"""

from __future__ import annotations

import argparse
import threading

from tests.fakes.spotify.server import FakeSpotify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:8765/callback")
    parser.add_argument("--user", default="fake-listener", help="who consents to logins")
    parser.add_argument("--users", type=int, default=0, help="more listeners: listener-1…N")
    parser.add_argument("--plays", type=int, default=30, help="plays each listener starts with")
    parser.add_argument(
        "--rate-limit", default=None, help="REQUESTS/SECONDS over a rolling window, e.g. 90/1"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every Web API answer takes"
    )
    args = parser.parse_args()
    limit = None
    if args.rate_limit:
        most, window = args.rate_limit.split("/")
        limit = (int(most), float(window))
    fake = FakeSpotify(
        client_id=args.client_id,
        redirect_uris=[args.redirect_uri],
        rate_limit=limit,
        latency_s=args.latency,
    )
    fake.add_listener(args.user, "Fake Listener")
    for n in range(1, args.users + 1):
        fake.add_listener(f"listener-{n}", f"Listener {n}")
    base = fake.serve(port=args.port)
    fake.answer("POST", "/_fake/listen", {}, f'{{"user": "*", "count": {args.plays}}}'.encode())
    print(f"fake Spotify on {base}; point Weekly Wrapped at it with:")
    print(f"  export WRAPPED_SPOTIFY_API_URL={base}/v1")
    print(f"  export WRAPPED_SPOTIFY_ACCOUNTS_URL={base}")
    print(f"  export WRAPPED_SPOTIFY_CLIENT_ID={args.client_id}")
    print(f"  export WRAPPED_SPOTIFY_REDIRECT_URI={args.redirect_uri}")
    threading.Event().wait()


if __name__ == "__main__":
    main()
