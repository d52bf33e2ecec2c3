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
