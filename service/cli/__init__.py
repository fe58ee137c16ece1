"""The ``windwatch`` command line (Typer): one module per command group, registered here."""

from __future__ import annotations

import typer

from service.cli.baselines import baselines_app
from service.cli.data import import_recordings, simulate
from service.cli.geometry import geometry_app
from service.cli.models import models_app
from service.cli.research import evaluate_command, explain_eval_command, train_command
from service.cli.serve import migrate, serve

app = typer.Typer(help="Windwatch: vibration condition monitoring for wind turbines.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command("migrate")(migrate)
app.command("serve")(serve)
app.command("train")(train_command)
app.command("simulate")(simulate)
app.command("import")(import_recordings)
app.command("evaluate")(evaluate_command)
app.command("explain-eval")(explain_eval_command)
app.add_typer(models_app, name="models")
app.add_typer(geometry_app, name="geometry")
app.add_typer(baselines_app, name="baselines")
