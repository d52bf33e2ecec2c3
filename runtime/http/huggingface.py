"""Placeholder: routes are added by the issue that owns this door."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes(ctx) -> list[BaseRoute]:
    return []
