"""Bearer secrets: how they are made, stored (hashed) and compared (in constant time).

A token reads `<prefix>_<id>_<secret>`: the id finds the row, the secret is checked against a
SHA-256 digest. Secrets carry 256 bits of randomness, so a fast hash is enough (no key stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

USER_PREFIX = "msu"
NODE_PREFIX = "msn"


@dataclass(frozen=True)
class ParsedToken:
    prefix: str
    ident: str
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(prefix: str, ident: str | int, secret: str) -> str:
    return f"{prefix}_{ident}_{secret}"


def parse_token(raw: str, prefix: str) -> ParsedToken | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    return ParsedToken(prefix=parts[0], ident=parts[1], secret=parts[2])


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def constant_time_equals(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
