from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach for the hub

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs temporary projects through pytest


@pytest.fixture
def service(tmp_path):
    """The real InferenceService over the fixture catalog (DETR, ResNet, ViT), its state in tmp_path."""
    from support import make_service

    svc = make_service(tmp_path)
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on loopback for the session (skips, saying why, where none can start)."""
    from pg_support import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_target(request, tmp_path):
    """A fresh ledger of each backend: a SQLite file path, or a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    from pg_support import fresh_database

    return fresh_database(request.getfixturevalue("postgres_server"))
