"""Shared fixtures: real SQLite and real PostgreSQL, each migrated with Alembic once per run,
and a savepoint per test so that every test starts from the same committed state.

PostgreSQL: ``WINDWATCH_TEST_POSTGRES_URL`` (default the local ``test`` database). Tests run in a
dedicated schema that is dropped and re-created per run. Without a server the PostgreSQL variants
skip, unless ``WINDWATCH_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a
failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from service.db import make_engine
from service.migrate import migrate_and_seed, upgrade
from service.settings import REPO_ROOT, Settings

PG_URL = os.environ.get(
    "WINDWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("WINDWATCH_REQUIRE_POSTGRES") == "1"
DATASETS = Path(os.environ.get("WINDWATCH_DATASETS_DIR", REPO_ROOT.parent / "shared" / "datasets"))
CWRU = DATASETS / "cwru_12k_drive_end_dev"


def _worker() -> str:
    # Unique per process: concurrent pytest runs on one machine must not share a schema.
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


_SCHEMAS: list[str] = []


def drop_schemas() -> None:
    if not _SCHEMAS:
        return
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        for schema in _SCHEMAS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def postgres_schema_url(schema: str) -> str:
    """A URL whose connections use ``schema`` (dropped and re-created here) as search path."""
    try:
        admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        _SCHEMAS.append(schema)
    except Exception as exc:
        msg = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}"
        if REQUIRE_PG:
            pytest.fail(f"{msg} (WINDWATCH_REQUIRE_POSTGRES=1 makes PostgreSQL mandatory)")
        pytest.skip(f"{msg}; set WINDWATCH_TEST_POSTGRES_URL to run the PostgreSQL tests")
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def backend_url(backend: str, tmp_dir: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / (name + '.db')}"
    return postgres_schema_url(f"ww_{name}_{_worker()}")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("WINDWATCH_DATASETS_DIR", str(DATASETS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from service.db import get_engine

    get_engine.cache_clear()
    drop_schemas()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def base_settings(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a migrated, seeded database (bundled models registered) for one backend."""
    root = tmp_path_factory.mktemp(f"data-{backend}")
    url = backend_url(backend, root, "api")
    settings = Settings(database_url=url, data_root=root, datasets_dir=DATASETS, model_refresh_s=0,
                        log_level="WARNING", allowed_hosts=["testserver"])  # TestClient's Host
    migrate_and_seed(settings)
    return settings


@pytest.fixture(scope="session")
def admin_key(base_settings: Settings) -> str:
    """An API key with every scope, committed once per backend (the ``client``'s credentials)."""
    from service.auth.service import create_key

    engine = make_engine(base_settings.database_url)
    with Session(engine) as s:
        _, secret = create_key(session=s, name="test-admin",
                               scopes=["ingest", "read", "operate", "admin"], created_by="tests")
        s.commit()
    engine.dispose()
    return secret


def auth_header(key: str) -> dict[str, str]:
    """The Authorization header of an API key."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def engine(base_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(base_settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine):
    """A connection inside an outer transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection) -> sessionmaker[Session]:
    # Every session.commit() in the code under test releases a SAVEPOINT instead of committing.
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                        expire_on_commit=False)


@pytest.fixture
def session(session_factory) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """The backend's settings (model artifacts shared; each test's raw files go to the fresh
    folder of the ``app`` fixture's store)."""
    return base_settings


@pytest.fixture
def app(settings: Settings, session_factory, tmp_path: Path):
    from service.batches.storage import RawStore
    from service.main import create_app

    application = create_app(settings)
    application.state.session_factory = session_factory
    application.state.store = RawStore(tmp_path / "data")
    return application


@pytest.fixture
def client(app, admin_key):
    """A TestClient authenticated with the admin key (every scope); ``anon_client`` has none."""
    from fastapi.testclient import TestClient

    with TestClient(app, headers=auth_header(admin_key)) as c:
        yield c


@pytest.fixture
def anon_client(app):
    """A TestClient without credentials."""
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def raw_dir(app) -> Path:
    return app.state.store.root


def migrated_url(backend: str, tmp_path: Path, name: str) -> str:
    """A fresh, empty database of ``backend`` migrated to head (for migration tests)."""
    url = backend_url(backend, tmp_path, name)
    upgrade(url)
    return url


def run_async(coro):
    """``asyncio.run(coro)`` on a thread of its own: the browser tests' Playwright keeps an event
    loop running on the main thread for the whole session, where ``asyncio.run`` refuses."""
    import asyncio
    import threading

    out: dict = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised on the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
