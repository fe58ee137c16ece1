"""The scopes of API keys and the roles of people, written once."""

from __future__ import annotations

# ingest: post batches (for the turbines/sites a key is bound to); read: every GET;
# operate: alarm acknowledge/close, geometry, healthy periods; admin: models, jobs, keys, users.
SCOPES = ("ingest", "read", "operate", "admin")
ROLES = ("viewer", "operator", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset({"read", "operate", "admin"}),
}
