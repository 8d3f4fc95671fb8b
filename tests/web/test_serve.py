"""`wrapped serve` runs the app under waitress; `--no-scheduler` serves without the schedule."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from tests.fakes.spotify.harness import free_port


def test_wrapped_serve_answers_on_its_port(tmp_path: Path) -> None:
    env = os.environ | {
        "WRAPPED_DATA_DIR": str(tmp_path),
        "WRAPPED_SECRET_KEY": Fernet.generate_key().decode(),
    }
    wrapped = [sys.executable, "-m", "weekly_wrapped.cli"]
    subprocess.run([*wrapped, "init"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*wrapped, "serve", "--port", str(port), "--no-scheduler"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        answer, deadline = None, time.monotonic() + 90  # a loaded machine starts slowly
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        assert answer.headers["Server"] == "weekly-wrapped"
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert "Log in with Spotify" in login.text
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert f"Serving Weekly Wrapped on http://127.0.0.1:{port} (no scheduler)" in stderr
