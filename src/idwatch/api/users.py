"""API users and their tokens, kept in the store with only a hash of each token.

A token is 32 random bytes (256 bits), so a plain SHA-256 of it cannot be brute-forced and a
slow password hash would buy nothing; the token itself is shown once, when the user is added.
Roles: ``viewer`` reads everything, ``analyst`` also marks alerts and campaigns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idwatch.store import Store, atomic_write_bytes

ROLES = ("viewer", "analyst")
TOKEN_PREFIX = "idw_"
FILE = "api_users.json"  # under state/, not a parquet: never a view `idwatch query` can read


class UserError(ValueError):
    """A user that cannot be added (bad name or role, name taken)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def can_mark(self) -> bool:
        return self.role == "analyst"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _load(store: Store) -> list[dict[str, Any]]:
    path = store.state_dir / FILE
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def _save(store: Store, users: list[dict[str, Any]]) -> None:
    path = store.state_dir / FILE
    atomic_write_bytes(path, json.dumps(users, indent=2).encode("utf-8"))
    os.chmod(path, 0o600)


def add_user(store: Store, name: str, role: str) -> str:
    """Create a user and return its token (the only time it is ever visible)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise UserError("a user name is 1-64 letters, digits or . _ - @")
    users = _load(store)
    if any(u["name"] == name for u in users):
        raise UserError(f"user {name!r} exists; remove it first to issue a new token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    users.append({"name": name, "role": role, "token_sha256": _hash(token), "created_at": created})
    _save(store, users)
    return token


def remove_user(store: Store, name: str) -> bool:
    users = _load(store)
    kept = [u for u in users if u["name"] != name]
    if len(kept) != len(users):
        _save(store, kept)
    return len(kept) != len(users)


def list_users(store: Store) -> list[dict[str, str]]:
    """Name, role and creation time of each user (never the hash)."""
    return [{k: u[k] for k in ("name", "role", "created_at")} for u in _load(store)]


def authenticate(store: Store, token: str) -> User | None:
    """The user a token belongs to, compared in constant time, else None."""
    digest = _hash(token)
    for u in _load(store):
        if hmac.compare_digest(u["token_sha256"], digest):
            return User(u["name"], u["role"])
    return None
