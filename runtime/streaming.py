"""A task's stream of events, produced in an inference slot's thread and consumed on the event loop.

The producer runs the task's `stream` generator inside the slot (so a stream holds its slot while it runs, as a
plain inference does) and hands each event to the loop. When the consumer stops early (the client went away, a
Worker stopped reading), the producer stops at its next event and the slot is released.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .inference.session import InferenceSlots

_END = object()


async def events_in_slot(
    slots: InferenceSlots, produce: Callable[[Any], Iterator[Any]], prepare: Callable[[], Any]
) -> AsyncIterator[Any]:
    """The events `produce(prepare())` yields, `prepare` on a preparation thread and `produce` in a slot."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def run(prepared: Any) -> None:
        for event in produce(prepared):
            loop.call_soon_threadsafe(queue.put_nowait, event)
            if stop.is_set():
                return

    job = asyncio.ensure_future(slots.run(run, prepare=prepare))

    def ended(future: asyncio.Future[Any]) -> None:
        queue.put_nowait(_END)  # after every event the thread handed over
        if not future.cancelled():
            future.exception()  # retrieved here; raised below when the consumer is still reading

    job.add_done_callback(ended)
    try:
        while True:
            event = await queue.get()
            if event is _END:
                job.result()  # the producer's (or the slot's) error, if it failed
                return
            yield event
    finally:
        stop.set()
        if not job.done():
            job.cancel()  # still waiting for a slot: give up the place; running: it stops at its next event
