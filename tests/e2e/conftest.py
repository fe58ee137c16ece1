"""A real server: ``windwatch migrate`` then uvicorn in a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of a freshly migrated Windwatch on SQLite, stopped after the module."""
    root = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = {**os.environ, "WINDWATCH_DATABASE_URL": f"sqlite:///{root / 'ww.db'}",
           "WINDWATCH_DATA_ROOT": str(root / "data"), "WINDWATCH_PORT": str(port),
           "WINDWATCH_TORCH_THREADS": "1", "WINDWATCH_MODEL_REFRESH_S": "0.5"}
    subprocess.run([BIN / "windwatch", "migrate"], env=env, check=True, capture_output=True)
    log = open(root / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([BIN / "windwatch", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    srv = Server(url)
    srv.env = env
    yield srv
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
