"""The ``windwatch`` command groups through Typer's runner, on the test database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli import app


@pytest.fixture
def run(settings, monkeypatch):
    """Run ``windwatch ...`` against the session's seeded database."""
    from service.settings import get_settings

    monkeypatch.setenv("WINDWATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WINDWATCH_DATA_ROOT", str(settings.data_root))
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


def test_every_command_group_is_registered():
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == {"migrate", "serve", "train", "simulate", "import", "evaluate",
                     "explain-eval", "models", "geometry", "baselines", "keys", "users", "check",
                     "jobs", "scheduler"}


def test_geometry_catalogue_lists_the_one_bearing_table(run):
    r = run("geometry", "catalogue")
    assert r.exit_code == 0, r.output
    assert "SKF 6205-2RS" in r.output and "BPFI 5.4152" in r.output


def test_models_list_and_unknown_version_errors(run):
    r = run("models", "list")
    assert r.exit_code == 0 and "production" in r.output
    r = run("models", "promote", "999999")
    assert r.exit_code == 1 and "error:" in r.output


def test_baselines_show_and_fit_errors_name_the_problem(run):
    r = run("baselines", "show", "WT-NOPE", "gearbox_hss")
    assert r.exit_code == 1 and "turbine 'WT-NOPE' not found" in r.output
    r = run("baselines", "fit", "WT-NOPE", "s", "--start", "2026-11-02T00:00Z",
            "--end", "2026-11-01T00:00Z")
    assert r.exit_code == 1 and "must be before" in r.output
    r = run("baselines", "fit", "WT-NOPE", "s", "--start", "yesterday", "--end", "2026-11-01T00:00Z")
    assert r.exit_code == 1 and "error:" in r.output


def test_baselines_calibrate_prints_the_threshold(run, settings):
    if not (settings.datasets_dir / "uestc_bearing").exists():
        pytest.skip(f"UESTC data not found under {settings.datasets_dir}")
    r = run("baselines", "calibrate")
    assert r.exit_code == 0, r.output
    assert "threshold for 5.0% false alarms per snapshot" in r.output and "3-of-5" in r.output
