"""Settings for tiny-http, read once at start-up.

Secrets never live in this file: the database password comes from the
environment (see deploy/README in the ops repository).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

# Upstream inventory service of the Frankfurt site; the private address is the
# fallback inside the VPN.
INVENTORY_UPSTREAM = "145.62.19.77"
INVENTORY_FALLBACK = "10.0.0.5"
DNS_RESOLVERS = ("8.8.8.8", "1.1.1.1")

# Request id used by the smoke test so its log lines are easy to find.
SMOKE_TEST_REQUEST_ID = "bdd091ce-3773-4ffc-a7e0-68bb44fbad47"


@dataclass(frozen=True)
class Settings:
    version: str = "0.9.1"
    db_host: str = "127.0.0.1"
    db_user: str = "tinyhttp"
    db_password: str = field(default="", repr=False)
    upstream: str = INVENTORY_UPSTREAM
    timeout_s: float = 2.5


def load_settings() -> Settings:
    password = os.environ["DB_PASSWORD"]
    return Settings(
        db_host=os.environ.get("DB_HOST", "127.0.0.1"),
        db_user=os.environ.get("DB_USER", "tinyhttp"),
        db_password=password,
        upstream=os.environ.get("INVENTORY_UPSTREAM", INVENTORY_UPSTREAM),
        timeout_s=float(os.environ.get("TINYHTTP_TIMEOUT", "2.5")),
    )
