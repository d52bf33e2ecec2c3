"""How the emulator's HTTP server runs: uvicorn's limits and timeouts, chosen on purpose (`dev` and the tests).

- `limit_concurrency`: at most this many connections and tasks at once; beyond it uvicorn answers 503 at once
  instead of queueing without bound (hundreds of idle connections are fine below it).
- `timeout_keep_alive`: an idle keep-alive connection is closed after this many seconds.
- `h11_max_incomplete_event_size`: the most header bytes a request may send before its headers are complete
  (larger: 400), so a client cannot grow a header block without bound.
- `backlog`: pending connections the kernel may hold while all are busy.
Slow clients (a byte a second) cost one idle coroutine each: they do not hold up other requests. Request bodies
are bounded separately (`[emulator] max_body_bytes`, checked against Content-Length and while streaming).
"""

from __future__ import annotations

from typing import Any

LIMIT_CONCURRENCY = 1024
TIMEOUT_KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 64 * 1024
BACKLOG = 2048
TIMEOUT_GRACEFUL_SHUTDOWN_S = 10


def uvicorn_options() -> dict[str, Any]:
    return {
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_keep_alive": TIMEOUT_KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "backlog": BACKLOG,
        "timeout_graceful_shutdown": TIMEOUT_GRACEFUL_SHUTDOWN_S,
    }
