"""schemathesis against a real server's /openapi.json, on SQLite and PostgreSQL: every
operation, the links between them (stateful phase), a fixed seed and a bounded number of
examples per operation, authenticated as an admin key. Zero server errors and zero schema
violations: every status is declared, every body and content type matches the document.

The server is seeded first (a small fleet with alarms) so that links reach real turbines,
batches, predictions and alarms. The key operations run last, on their own: revoking would
otherwise revoke the key the rest of the run authenticates with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.browser.seed import seed
from tests.conftest import _worker, postgres_schema_url
from tests.live_server import BIN, running_server

pytestmark = pytest.mark.e2e
SEED = 20261201
EXAMPLES = int(os.environ.get("WINDWATCH_SCHEMATHESIS_EXAMPLES", "40"))
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance",
    "use_after_free", "ensure_resource_availability",
])
LAST = r"^/api/v1/keys"  # listing, creating and revoking keys: the last pass


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def st_server(request, tmp_path_factory):
    """A seeded live server on one backend."""
    root = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    env = {}
    if request.param == "postgres":
        env["WINDWATCH_DATABASE_URL"] = postgres_schema_url(f"ww_st_{_worker()}")
    with running_server(root, **env) as server:
        seed(server, None, n_turbines=2, n_snapshots=3, headers=server.headers)
        yield server, root


def run_schemathesis(server, workdir, *select: str) -> dict:
    """One ``st run`` over the selected operations; its JSON report (plus the console tail)."""
    report = workdir / f"report-{len(list(workdir.glob('report-*')))}.json"
    headers = [arg for k, v in server.headers.items() for arg in ("-H", f"{k}: {v}")]
    cmd = [BIN / "st", "run", f"{server}/openapi.json", "--seed", str(SEED),
           "--max-examples", str(EXAMPLES), "--workers", "1", "--checks", CHECKS,
           "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "60",
           "--no-shrink", "--report", "json", "--report-json-path", str(report),
           *headers, *select]
    # cwd: schemathesis keeps a cache folder (.schemathesis/) where it runs
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(report.read_text())
    out["console"] = proc.stdout[-6000:]
    return out


def server_requests(root) -> tuple[int, int]:
    """(requests, server errors) in the server's log: 5xx answers in the access log, and
    unhandled exceptions (their 500 never reaches the access log)."""
    text = (root / "server.log").read_text()
    statuses = re.findall(r"\] request .*status=(\d{3})", text)
    crashes = text.count("Exception in ASGI application")
    return len(statuses) + crashes, sum(s.startswith("5") for s in statuses) + crashes


def test_schemathesis_finds_no_server_error_and_no_schema_violation(st_server, tmp_path):
    server, root = st_server
    before, _ = server_requests(root)
    main = run_schemathesis(server, tmp_path, "--exclude-path-regex", LAST)
    last = run_schemathesis(server, tmp_path, "--include-path-regex", LAST)
    requests, server_errors = server_requests(root)
    requests -= before
    cases = main["test_cases"]["generated"] + last["test_cases"]["generated"]
    failures = main["failures"] + last["failures"]
    print(f"\nschemathesis: {cases} test cases, {requests} requests, {server_errors} server "
          f"errors, {sum(f['count'] for f in failures)} failures")
    assert main["operations"]["tested"] + last["operations"]["tested"] == main["operations"]["total"]
    assert main["errors"] == last["errors"] == [], main["console"]
    assert failures == [], main["console"] + last["console"]
    assert server_errors == 0
    # Authenticated and seeded: the run reached real data, not only 401s and 404s.
    accepted = {op: sum(p.get("accepted", 0) for p in phases.values())
                for op, phases in main["valid_rates"].items()}
    for op in ("GET /api/v1/models", "GET /api/v1/alarms", "GET /api/v1/turbines"):
        assert accepted.get(op, 0) > 0, (op, main["valid_rates"].get(op))
    assert requests >= 20 * main["operations"]["total"]
