"""Input rules shared by request schemas and path/query parameters (pure pydantic, no FastAPI).

Identifiers (turbines, sensors, sites used as names) can never be a path element: they start
with a letter, digit or underscore, so ``.``, ``..`` and hidden names are refused, and hold no
slash, NUL or control character. Free text refuses NUL and control characters (a line break or
tab is allowed in multi-line notes only). Integers that reach the database stay within the
narrowest key type of the supported databases (PostgreSQL ``integer``).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$"
MAX_DB_INT = 2**31 - 1  # int4 keys of the small tables (turbines, models, keys, users, jobs)
MAX_BIG_INT = 2**63 - 1  # BIGINT keys of the growing tables (batches, predictions, alarms, ...)


def control_chars(value: str, *, allow_newlines: bool = False) -> list[str]:
    """The NUL, control and surrogate characters in ``value`` (categories Cc, Cs), as escapes."""
    ok = {"\n", "\r", "\t"} if allow_newlines else set()
    return sorted({repr(ch) for ch in value
                   if ch not in ok and unicodedata.category(ch) in ("Cc", "Cs")})


def check_text(value: str) -> str:
    """A single-line free-text value: no NUL or control characters."""
    bad = control_chars(value)
    if bad:
        raise ValueError(f"must not contain NUL or control characters (found {', '.join(bad)})")
    return value


def check_multiline(value: str) -> str:
    """Multi-line free text: line breaks and tabs allowed, other control characters not."""
    bad = control_chars(value, allow_newlines=True)
    if bad:
        raise ValueError(f"must not contain NUL or control characters (found {', '.join(bad)})")
    return value


Text = Annotated[str, AfterValidator(check_text)]
MultilineText = Annotated[str, AfterValidator(check_multiline)]
