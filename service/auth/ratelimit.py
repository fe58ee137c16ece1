"""Rate limits (the ``limits`` library, moving window): ingest per API key and per client
address, login per address and per username. 429 with ``Retry-After``.

With the default ``memory://`` storage each worker process counts on its own (the effective
limit is the setting times the worker count); point ``rate_limit_storage`` at Redis to share.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from service.errors import TooManyRequests
from service.settings import Settings


class RateLimits:
    """The limits of one process, parsed once from the settings."""

    def __init__(self, settings: Settings):
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self.ingest_key = parse(settings.rate_limit_ingest_key)
        self.ingest_address = parse(settings.rate_limit_ingest_address)
        self.login = parse(settings.rate_limit_login)

    def hit(self, item: RateLimitItem, *identifiers: str, what: str) -> None:
        """Count one hit; 429 naming the limit when it is exhausted."""
        if self._limiter.hit(item, *identifiers):
            return
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        raise TooManyRequests(f"rate limit of {item} for {what} reached; retry in {retry} s",
                              retry_after=retry)

    def ingest(self, *, key: str | None, address: str | None) -> None:
        """One ingest post by ``key`` (None: auth off) from ``address``."""
        if address:
            self.hit(self.ingest_address, "ingest-address", address, what=f"address {address}")
        if key:
            self.hit(self.ingest_key, "ingest-key", key, what=f"API key {key}")

    def login_attempt(self, *, username: str, address: str | None) -> None:
        """One login attempt (counted before the password is checked)."""
        if address:
            self.hit(self.login, "login-address", address, what=f"logins from {address}")
        self.hit(self.login, "login-user", username.lower(), what=f"logins as {username!r}")
