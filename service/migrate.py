"""Schema migrations (Alembic) and first-start seeding, callable from the CLI and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from service.settings import REPO_ROOT, Settings


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` with the repository's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def migrate_and_seed(settings: Settings) -> None:
    """Upgrade the schema and register the bundled models (production default if none)."""
    from service.db import get_engine, session_factory
    from service.registry.service import ensure_default_models

    upgrade(settings.database_url)
    settings.data_root.mkdir(parents=True, exist_ok=True)
    with session_factory(get_engine(settings.database_url))() as session:
        ensure_default_models(session=session, settings=settings)
        session.commit()
