from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach for the hub

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs temporary projects through pytest
