"""A sibling module of the test Workers: imports between a Worker's own modules must work."""

import asyncio
from pathlib import Path


def shout(text):
    return text.upper() + "!"


async def write_later(path, text):
    await asyncio.sleep(0.05)
    Path(path).write_text(text)
