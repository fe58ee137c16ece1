"""Static checks of the deployment files: docker-compose.yml, Dockerfile, .ci/run.

Docker cannot run on the development machines, so these tests hold the files to the code they
deploy: every ``WINDWATCH_*`` variable is a real setting that parses, the command migrates before
serving on the published port, and the image installs the CPU torch before the project.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from service.settings import REPO_ROOT, Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _env(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or a KEY=VALUE list."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _command(service: dict) -> str:
    cmd = service["command"]
    return cmd if isinstance(cmd, str) else shlex.join(cmd)


def _serve_port(command: str) -> int:
    match = re.search(r"windwatch serve\b.*--port[ =](\d+)", command)
    assert match, f"serve has no explicit --port: {command!r}"
    return int(match.group(1))


def test_services() -> None:
    assert set(COMPOSE["services"]) == {"postgres", "api", "scheduler"}
    assert COMPOSE["services"]["postgres"]["image"].startswith("postgres:15")
    assert COMPOSE["services"]["api"]["build"] == "."


def test_scheduler_is_one_replica_of_the_api_image_on_the_same_database(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.main import get_command

    from service.cli import app

    api, scheduler = COMPOSE["services"]["api"], COMPOSE["services"]["scheduler"]
    assert scheduler["build"] == api["build"]
    assert _command(scheduler) == "windwatch scheduler"
    assert "scheduler" in get_command(app).commands
    assert scheduler.get("deploy", {}).get("replicas", 1) == 1
    env = _env(scheduler)
    for key in ("WINDWATCH_DATABASE_URL", "WINDWATCH_DATA_ROOT"):
        assert env[key] == _env(api)[key], key
    for key in [k for k in os.environ if k.startswith("WINDWATCH_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        assert key.removeprefix("WINDWATCH_").lower() in Settings.model_fields, key
        monkeypatch.setenv(key, value)
    Settings(_env_file=None)  # parses
    assert set(scheduler["volumes"]) == set(api["volumes"])  # same artifacts and raw data
    assert scheduler["depends_on"]["api"]["condition"] == "service_healthy"  # api migrates


def test_api_env_names_real_settings_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(COMPOSE["services"]["api"])
    assert env, "the api service sets no WINDWATCH_ variables"
    for key in [k for k in os.environ if k.startswith("WINDWATCH_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        assert key.startswith("WINDWATCH_"), key
        field = key.removeprefix("WINDWATCH_").lower()
        assert field in Settings.model_fields, f"{key} is not a field of service.settings.Settings"
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    for key, value in env.items():
        field = key.removeprefix("WINDWATCH_").lower()
        annotation = Settings.model_fields[field].annotation
        if getattr(annotation, "__origin__", None) is list:  # host / origin lists: comma-separated
            expected = [v.strip() for v in value.split(",")]
        else:
            expected = TypeAdapter(annotation).validate_python(value)
        assert getattr(settings, field) == expected, key
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in settings.database_url
    assert settings.data_root == Path("/data")
    assert settings.workers * settings.effective_torch_threads() <= 2


def test_database_credentials_match_postgres_service() -> None:
    pg = _env(COMPOSE["services"]["postgres"])
    url = _env(COMPOSE["services"]["api"])["WINDWATCH_DATABASE_URL"]
    user, password, db = pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
    assert url == f"postgresql+psycopg://{user}:{password}@postgres:5432/{db}"


def test_api_migrates_then_serves_on_the_published_port() -> None:
    api = COMPOSE["services"]["api"]
    command = _command(api)
    assert "windwatch migrate" in command and "windwatch serve" in command
    assert command.index("windwatch migrate") < command.index("windwatch serve")
    assert "&&" in command.split("windwatch serve")[0], "serve must not start if migrate fails"
    assert "--host 0.0.0.0" in command
    port = _serve_port(command)
    container_ports = {int(str(p).split(":")[-1].split("/")[0]) for p in api["ports"]}
    assert port in container_ports
    assert f"EXPOSE {port}" in DOCKERFILE
    assert f":{port}/healthz" in " ".join(api["healthcheck"]["test"])


def test_api_is_published_on_loopback_only_and_checks_the_host() -> None:
    api = COMPOSE["services"]["api"]
    for mapping in api["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), f"{mapping} publishes beyond the loopback"
    settings = Settings(_env_file=None, allowed_hosts=_env(api)["WINDWATCH_ALLOWED_HOSTS"])
    # the healthcheck's URL and the README's address must pass the Host check
    health = " ".join(api["healthcheck"]["test"])
    host = re.search(r"http://([^:/]+)", health).group(1)
    assert host in settings.trusted_hosts() and "localhost" in settings.trusted_hosts()


def test_healthchecks_and_startup_order() -> None:
    services = COMPOSE["services"]
    for name in ("postgres", "api"):
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    lines = [ln.strip() for ln in DOCKERFILE.splitlines()]
    torch_at = next(i for i, ln in enumerate(lines) if "pip install" in ln and "torch==" in ln)
    project_at = next(i for i, ln in enumerate(lines) if re.search(r"pip install .*-e \.$", ln))
    assert torch_at < project_at
    assert "download.pytorch.org/whl/cpu" in lines[torch_at]
    # One pin for make and docker.
    makefile = (REPO_ROOT / "Makefile").read_text()
    make_pin = re.search(r"^TORCH_VERSION \?= (\S+)", makefile, re.M).group(1)
    assert f"torch=={make_pin}" in lines[torch_at]
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"


def test_cli_entry_point_exists() -> None:
    assert PYPROJECT["project"]["scripts"]["windwatch"] == "service.cli:app"
    from typer.main import get_command

    from service.cli import app

    commands = set(get_command(app).commands)
    assert {"migrate", "serve"} <= commands


def test_ci_script_is_executable() -> None:
    ci = REPO_ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert "set -euo pipefail" in ci.read_text()
