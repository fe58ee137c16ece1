"""The ``windwatch`` command line (Typer): one module per command group, registered here."""

from __future__ import annotations

import typer

from service.cli.auth import keys_app, users_app
from service.cli.baselines import baselines_app
from service.cli.check import check
from service.cli.data import import_recordings, simulate
from service.cli.geometry import geometry_app
from service.cli.jobs import jobs_app, scheduler_command
from service.cli.models import models_app
from service.cli.research import evaluate_command, explain_eval_command, train_command
from service.cli.serve import migrate, serve

app = typer.Typer(help="Windwatch: vibration condition monitoring for wind turbines.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command("migrate")(migrate)
app.command("serve")(serve)
app.command("scheduler")(scheduler_command)
app.command("check")(check)
app.command("train")(train_command)
app.command("simulate")(simulate)
app.command("import")(import_recordings)
app.command("evaluate")(evaluate_command)
app.command("explain-eval")(explain_eval_command)
app.add_typer(models_app, name="models")
app.add_typer(geometry_app, name="geometry")
app.add_typer(baselines_app, name="baselines")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
