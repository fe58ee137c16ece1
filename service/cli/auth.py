"""``windwatch keys ...`` and ``windwatch users ...``: API keys and dashboard users, made on
the database directly (the first admin exists before anyone can log in). Actions are audited
with actor ``cli``."""

from __future__ import annotations

import getpass
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from service.cli.session import echo_json, exit_on_domain_error, open_session

keys_app = typer.Typer(help="API keys (scopes: ingest, read, operate, admin).", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard users (roles: viewer, operator, admin).",
                        no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: str,
    scope: Annotated[list[str], typer.Option(help="ingest, read, operate or admin; repeatable "
                                                  "or comma-separated")],
    turbine: Annotated[list[str] | None, typer.Option(help="Bind ingest to a turbine")] = None,
    site: Annotated[list[str] | None, typer.Option(help="Bind ingest to a site")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Expire after this many days")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the key")] = False,
) -> None:
    """Create a key and print its secret once (only a hash is stored)."""
    from service.auth import audit, service
    from service.auth.schemas import KeyCreatedOut, KeyOut

    scopes = [s.strip() for item in scope for s in item.split(",") if s.strip()]
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with exit_on_domain_error(), open_session() as session:
        key, secret = service.create_key(session=session, name=name, scopes=scopes,
                                         created_by="cli", turbines=turbine, sites=site,
                                         expires_at=expires)
        audit.record(session=session, actor="cli", action="key.create", target=f"key:{name}",
                     details={"scopes": key.scopes})
        session.commit()
        if quiet:
            typer.echo(secret)
        else:
            echo_json(KeyCreatedOut(**KeyOut.model_validate(key).model_dump(), secret=secret))
            typer.echo("Store the secret now: it is not shown again.", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, prefix, scopes, binding, expiry, revocation, last use."""
    from service.auth import service
    from service.auth.schemas import KeyOut

    with open_session() as session:
        for key in service.list_keys(session=session):
            k = KeyOut.model_validate(key)
            state = "revoked" if k.revoked_at else "active"
            typer.echo(f"{k.id:>4}  {k.name:<24} ww_{k.prefix}_…  {','.join(k.scopes):<28} "
                       f"{state:<8} last used {k.last_used_at or 'never'}")


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke a key by id (``windwatch keys list`` shows the ids)."""
    from service.auth import audit, service

    with exit_on_domain_error(), open_session() as session:
        key = service.revoke_key(session=session, key_id=key_id)
        audit.record(session=session, actor="cli", action="key.revoke", target=f"key:{key.name}")
        session.commit()
        typer.echo(f"revoked key {key.id} ({key.name})")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "viewer",
    password: Annotated[str | None, typer.Option(help="Default: prompt (or --generate)")] = None,
    generate: Annotated[bool, typer.Option(help="Generate a password and print it once")]
    = False,
    if_missing: Annotated[bool, typer.Option(help="Do nothing if the user exists")] = False,
) -> None:
    """Create a dashboard user (the first admin: ``windwatch users create admin --role admin``)."""
    from sqlalchemy import select

    from service.auth import audit, service
    from service.auth.tables import User

    with exit_on_domain_error(), open_session() as session:
        if if_missing and session.scalar(select(User.id).where(User.username == username)):
            return
        if generate:
            password = secrets.token_urlsafe(12)
        elif password is None:
            password = getpass.getpass(f"password for {username}: ")
        user = service.create_user(session=session, username=username, password=password,
                                   role=role)
        audit.record(session=session, actor="cli", action="user.create",
                     target=f"user:{username}", details={"role": role})
        session.commit()
        typer.echo(f"created {user.role} {user.username!r}"
                   + (f" with password {password}  (shown once)" if generate else ""))


@users_app.command("list")
def users_list() -> None:
    """Every user with role and state."""
    from service.auth import service

    with open_session() as session:
        for u in service.list_users(session=session):
            typer.echo(f"{u.id:>4}  {u.username:<24} {u.role:<9} "
                       f"{'disabled' if u.disabled else 'active':<9} last login "
                       f"{u.last_login_at or 'never'}")


@users_app.command("update")
def users_update(
    user_id: int,
    role: Annotated[str | None, typer.Option()] = None,
    disable: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
    reset_password: Annotated[bool, typer.Option(help="Prompt for a new password")] = False,
) -> None:
    """Change a role, disable/enable (disabling ends sessions) or reset a password."""
    from service.auth import audit, service

    with exit_on_domain_error(), open_session() as session:
        password = getpass.getpass("new password: ") if reset_password else None
        user = service.update_user(session=session, user_id=user_id, role=role,
                                   disabled=disable, password=password)
        audit.record(session=session, actor="cli", action="user.update",
                     target=f"user:{user.username}",
                     details={"role": role, "disabled": disable, "password_reset": reset_password})
        session.commit()
        typer.echo(f"updated {user.username!r}: {user.role}, "
                   f"{'disabled' if user.disabled else 'active'}")
