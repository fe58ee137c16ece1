"""``windwatch models ...``: list, show, register, promote and roll back model versions.

Promote and rollback go through the same path as the API (``ModelRuntime``): the artifact is
loaded and verified before the switch is committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.session import exit_on_domain_error, open_session
from service.settings import get_settings

models_app = typer.Typer(help="The model registry.", no_args_is_help=True)


@models_app.command("list")
def models_list() -> None:
    """All registered model versions."""
    from service.registry.service import list_versions

    with open_session() as s:
        for v in list_versions(session=s):
            f1 = v.metrics.get("test", {}).get("macro_f1", v.metrics.get("macro_f1", ""))
            typer.echo(f"{v.id:>4}  {v.status:<10} {v.architecture:<6} {v.name:<28} macroF1={f1}")


@models_app.command("show")
def models_show(version_id: int) -> None:
    """One model version as JSON."""
    from service.registry.schemas import ModelVersionOut
    from service.registry.service import get_version

    with open_session() as s:
        typer.echo(ModelVersionOut.model_validate(get_version(session=s, version_id=version_id))
                   .model_dump_json(indent=2))


@models_app.command("promote")
def models_promote(version_id: int, reason: Annotated[str, typer.Option()] = "",
                   by: Annotated[str, typer.Option()] = "cli") -> None:
    """Make a version the production model (running servers switch within seconds)."""
    from service.registry.runtime import ModelRuntime

    with open_session() as s, exit_on_domain_error():
        v = ModelRuntime(get_settings()).promote(session=s, version_id=version_id, by=by,
                                                 reason=reason)
        s.commit()
        typer.echo(f"model version {v.id} ({v.name}) is now in production")


@models_app.command("rollback")
def models_rollback(reason: Annotated[str, typer.Option()] = "rollback",
                    by: Annotated[str, typer.Option()] = "cli") -> None:
    """Put the previous production model back."""
    from service.registry.runtime import ModelRuntime

    with open_session() as s, exit_on_domain_error():
        v = ModelRuntime(get_settings()).rollback(session=s, by=by, reason=reason)
        s.commit()
        typer.echo(f"rolled back: model version {v.id} ({v.name}) is in production again")


@models_app.command("register")
def models_register(json_path: Path) -> None:
    """Register a checkpoint (its .json metadata; weights beside it) as a candidate."""
    from service.registry.service import register_checkpoint

    with open_session() as s:
        v = register_checkpoint(session=s, settings=get_settings(), json_path=json_path)
        s.commit()
        typer.echo(f"model version {v.id} ({v.name}, {v.status})")
