"""The server's signing key: configured, or created once under the data root."""

from __future__ import annotations

import os
import secrets
import time

from service.settings import Settings


def load_secret_key(settings: Settings) -> str:
    """``settings.secret_key``, else ``<data_root>/secret_key`` (created 0600 with O_EXCL, so
    workers starting together agree on one key; a restart keeps logins valid)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_root / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
            f.flush()
            os.fsync(f.fileno())
    for _ in range(50):  # another worker may be between O_EXCL and its write
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: remove it or set WINDWATCH_SECRET_KEY")
