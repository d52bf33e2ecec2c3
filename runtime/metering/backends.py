"""The ledger backends, by the targets that name them: the one module that knows both. metering/ledger.py is
their interface; it imports neither backend, and neither imports this registry.

A target starting with one of `SCHEMES` opens that backend with the URL; any other target is a SQLite file path
(or ":memory:"), the default.
"""

from __future__ import annotations

import os
from typing import Any

from .ledger import Ledger
from .postgres_ledger import PostgresLedger
from .sqlite_ledger import SQLiteLedger

SCHEMES: dict[str, type[Ledger]] = {"postgresql://": PostgresLedger, "postgres://": PostgresLedger}
DEFAULT: type[Ledger] = SQLiteLedger


def _scheme(target: str | os.PathLike[str]) -> str | None:
    return next((scheme for scheme in SCHEMES if str(target).startswith(scheme)), None)


def is_postgres(target: str | os.PathLike[str]) -> bool:
    scheme = _scheme(target)
    return scheme is not None and SCHEMES[scheme] is PostgresLedger


def backend_for(target: str | os.PathLike[str]) -> type[Ledger]:
    scheme = _scheme(target)
    return SCHEMES[scheme] if scheme is not None else DEFAULT


def open_ledger(target: str | os.PathLike[str] = ":memory:") -> Ledger:
    """The ledger `target` names: a URL of one of SCHEMES, else a SQLite file path (or ":memory:")."""
    backend: Any = backend_for(target)
    return backend(str(target) if _scheme(target) is not None else target)
