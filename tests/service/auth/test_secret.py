"""The signing key: configured, or created once (0600) under the data root and then reused, so
every worker and every restart signs with the same key."""

from __future__ import annotations

import stat

from service.auth.secret import load_secret_key
from service.settings import Settings


def test_the_key_is_created_once_private_and_reused(tmp_path):
    settings = Settings(data_root=tmp_path, database_url="sqlite://")
    first = load_secret_key(settings)
    assert len(first) >= 48 and load_secret_key(settings) == first
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert load_secret_key(settings.model_copy(update={"secret_key": "configured"})) == "configured"
