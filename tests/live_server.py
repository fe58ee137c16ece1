"""A real Windwatch for end-to-end and browser tests: ``windwatch migrate``, then
``windwatch serve`` in a subprocess on a free port (SQLite under a temporary folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(str):
    """The base URL, with the environment the server runs with (for CLI calls against it)."""

    env: dict[str, str]
    headers: dict[str, str]  # an admin API key's Authorization header (every scope)


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


@contextmanager
def running_server(root: Path, **env_overrides: str) -> Iterator[Server]:
    """Migrate a fresh SQLite database under ``root`` and serve it until the block ends."""
    port = free_port()
    env = {**os.environ, "WINDWATCH_DATABASE_URL": f"sqlite:///{root / 'ww.db'}",
           "WINDWATCH_DATA_ROOT": str(root / "data"), "WINDWATCH_PORT": str(port),
           "WINDWATCH_TORCH_THREADS": "1", "WINDWATCH_MODEL_REFRESH_S": "0.5",
           "WINDWATCH_DEMO_FLEET": "0",
           # One worker: each test reasons about one process's model cache (with several, a
           # promotion reaches each worker within model_refresh_s, not at the same instant).
           "WINDWATCH_WORKERS": "1", **env_overrides}
    subprocess.run([BIN / "windwatch", "migrate"], env=env, check=True, capture_output=True)
    key = subprocess.run([BIN / "windwatch", "keys", "create", "e2e-admin", "--quiet",
                          "--scope", "ingest,read,operate,admin"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([BIN / "windwatch", "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}")
        server.env = env
        server.headers = {"Authorization": f"Bearer {key}"}
        try:
            _wait_healthy(server, proc, log_path)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
