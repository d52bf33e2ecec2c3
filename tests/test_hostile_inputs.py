"""Hostile inputs, named one by one, on every door: each gets its coded error in that door's format (or, for odd
but valid images, a normal answer), never a 5xx, and the server keeps serving. Raw sockets and http.client send
what httpx would tidy up (dot segments, conflicting length headers, short bodies)."""

from __future__ import annotations

import asyncio
import http.client
import io
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from api_support import DETR, PNG, make_service, serve
from metering_server import PRICED
from PIL import Image
from test_metering_durability import start

from runtime.bindings.ai import AiBinding
from runtime.workers import InferenceUpstreamError

HF_DETR = "/hf-inference/models/facebook/detr-resnet-50"
REST_DETR = f"/client/v4/accounts/a/ai/run/{DETR}"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header declares width x height (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def many_frame_gif(frames: int = 400) -> bytes:
    first, *rest = [Image.new("P", (48, 48), i % 200) for i in range(frames)]
    return encoded(first, "GIF", save_all=True, append_images=rest, duration=10)


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return encoded(Image.new("RGB", (40, 30), (200, 50, 50)), "JPEG", exif=exif.tobytes())


def palette_with_transparency() -> bytes:
    image = Image.new("P", (40, 30), 3)
    return encoded(image, "PNG", transparency=3)


# name -> (bytes, True when it is a valid image that must be answered normally)
IMAGES = {
    "png declaring 60000x60000": (declared_png(60_000, 60_000), False),
    "png declaring 1x100000": (declared_png(1, 100_000), False),
    "gif with 400 frames": (many_frame_gif(), True),
    "cmyk jpeg": (encoded(Image.new("CMYK", (40, 30), (0, 200, 0, 0)), "JPEG"), True),
    "16-bit grey png": (encoded(Image.new("I;16", (40, 30), 40_000), "PNG"), True),
    "palette png with transparency": (palette_with_transparency(), True),
    "LA png": (encoded(Image.new("LA", (40, 30), (90, 128)), "PNG"), True),
    "jpeg with invalid exif orientation 9": (exif_orientation(9), True),
    "jpeg with exif orientation 0": (exif_orientation(0), True),
    "png cut in half": (PNG[: len(PNG) // 2], False),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, AiBinding]]:
    service = make_service(tmp_path_factory.mktemp("state"), max_body_bytes=4 * 1024 * 1024)
    binding = AiBinding(service, "hostile")
    with serve(service) as base:
        yield base, binding


def alive(base: str) -> None:
    assert httpx.post(f"{base}{REST_DETR}", content=PNG, timeout=60).status_code == 200


@pytest.mark.filterwarnings("ignore:Palette images with Transparency")
@pytest.mark.parametrize("name", list(IMAGES))
def test_hostile_and_odd_images_on_every_door(server, name):
    base, binding = server
    data, valid = IMAGES[name]
    rest = httpx.post(f"{base}{REST_DETR}", content=data, timeout=60)
    hf = httpx.post(f"{base}{HF_DETR}", content=data, timeout=60)
    if valid:
        assert rest.status_code == 200 and isinstance(rest.json()["result"], list), rest.text
        assert hf.status_code == 200 and isinstance(hf.json(), list), hf.text
        assert asyncio.run(binding.run(DETR, {"image": list(data)})) == rest.json()["result"]
        return
    assert rest.status_code == 400 and rest.json()["errors"][0]["code"] == 5006, rest.text
    assert hf.status_code == 400 and isinstance(hf.json()["error"], str), hf.text
    with pytest.raises(InferenceUpstreamError) as info:
        asyncio.run(binding.run(DETR, {"image": list(data)}))
    assert str(info.value).startswith("5006: ")


JSON_BODIES = {
    "nested 100000 deep": b'{"image": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "NaN literal": b'{"image": [NaN]}',
    "Infinity literal": b'{"image": [1, Infinity]}',
    "invalid UTF-8": b'{"image": [137, 80], "x": "\xff\xfe"}',
    "a string for the image": b'{"image": "iVBORw0KGgo="}',
    "floats in the image": b'{"image": [137.5, 80]}',
    "an object for the image": b'{"image": {"0": 137}}',
    "a number for the body": b"42",
    "null": b"null",
}


@pytest.mark.parametrize("name", list(JSON_BODIES))
def test_hostile_json_bodies_are_5006_on_both_http_doors(server, name):
    base, _ = server
    body = JSON_BODIES[name]
    rest = httpx.post(f"{base}{REST_DETR}", content=body, headers={"content-type": "application/json"}, timeout=60)
    hf = httpx.post(f"{base}{HF_DETR}", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert rest.status_code == 400 and rest.json()["errors"][0]["code"] in (5006, 3003), rest.text
    assert hf.status_code == 400 and isinstance(hf.json()["error"], str), hf.text


BAD_MODEL_PATHS = [
    "/client/v4/accounts/a/ai/run/@cf/../../../../etc/passwd",
    "/client/v4/accounts/a/ai/run/@cf/%2e%2e/%2e%2e/etc/passwd",
    "/client/v4/accounts/a/ai/run/@cf/..%2f..%2fetc%2fpasswd",
    "/client/v4/accounts/a/ai/run/@cf/x%00y",
    "/client/v4/accounts/a/ai/run/@cf/" + "a" * 10_000,
    "/client/v4/accounts/a/ai/run/@cf/mod%C3%A8le-%E6%A8%A1%E5%9E%8B",
    "/hf-inference/models/../../etc/passwd",
    "/hf-inference/models/%2e%2e/%2e%2e/etc/passwd",
    "/hf-inference/models/x%00/y",
    "/hf-inference/models/" + "b" * 10_000 + "/c",
]


@pytest.mark.parametrize("path", BAD_MODEL_PATHS, ids=lambda p: p[:60])
def test_hostile_model_names_are_refused_without_traversal_or_echo(server, path):
    base, _ = server
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", path, body=PNG, headers={"content-type": "image/png"})  # the path exactly as written
    answer = conn.getresponse()
    text = answer.read().decode("utf-8", errors="replace")
    conn.close()
    assert 400 <= answer.status < 500, (answer.status, text[:300])
    assert "root:" not in text and len(text) < 2_000  # nothing read from disk, a long name not echoed whole


def raw_exchange(base: str, payload: bytes, shut: bool = True) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        chunks = []
        try:
            sock.sendall(payload)
            if shut:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the server may refuse and close before it has read everything we send
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError, OSError):  # a server may reset after refusing unread input
            pass
    return b"".join(chunks)


def test_a_content_length_longer_than_the_body_gets_no_5xx(server):
    base, _ = server
    head = f"POST {REST_DETR} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
    answer = raw_exchange(base, head.encode() + PNG[:100])
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    alive(base)


def test_both_content_length_and_transfer_encoding_is_refused(server):
    base, _ = server
    head = (
        f"POST {REST_DETR} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw_exchange(base, head.encode() + b"5\r\nhello\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer[:200]
    alive(base)


def test_oversized_header_block_is_refused(server):
    base, _ = server
    head = f"GET /cdn-cgi/emu/health HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 200_000}\r\n\r\n"
    answer = raw_exchange(base, head.encode())
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer[:200]
    alive(base)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_a_json_array_of_20_million_numbers_is_refused_with_bounded_memory(tmp_path):
    body = b'{"image": [' + b"7," * 20_000_000 + b"7]}"  # 40 MB: twice the default body limit
    proc, base = start(tmp_path / "state")
    try:
        url = f"{base}/client/v4/accounts/a/ai/run/{PRICED}"
        httpx.post(url, content=PNG, timeout=60)  # warm: the model is loaded before measuring
        before = rss_kib(proc.pid)
        declared = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=120)
        streamed = httpx.post(
            url,
            content=(body[i : i + 1 << 20] for i in range(0, len(body), 1 << 20)),  # chunked: no Content-Length
            headers={"content-type": "application/json"},
            timeout=120,
        )
        after = rss_kib(proc.pid)
        assert httpx.post(url, content=PNG, timeout=60).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    for answer in (declared, streamed):
        assert answer.status_code == 413 and answer.json()["errors"][0]["code"] == 3006, answer.text[:200]
    print(f"RSS before {before / 1024:.0f} MiB, after two 40 MB bodies {after / 1024:.0f} MiB")
    assert after - before < 64 * 1024  # the bodies were never held whole (< 64 MiB growth for 2 x 40 MB)


def test_idle_connections_and_slow_clients_do_not_slow_normal_requests(server):
    base, _ = server
    parts = urlsplit(base)

    def latency() -> float:
        started = time.perf_counter()
        assert httpx.get(f"{base}/cdn-cgi/emu/health", timeout=30).status_code == 200
        return time.perf_counter() - started

    baseline = sorted(latency() for _ in range(10))[5]
    idle = [socket.create_connection((parts.hostname, parts.port), timeout=10) for _ in range(300)]
    slow = [socket.create_connection((parts.hostname, parts.port), timeout=10) for _ in range(20)]
    try:
        request = f"POST {REST_DETR} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".encode()
        loaded = []
        for i in range(12):  # a byte at a time from each slow client, between normal requests
            for sock in slow:
                sock.send(request[i : i + 1])
            loaded.append(latency())
            time.sleep(0.05)
        under_load = sorted(loaded)[6]
    finally:
        for sock in idle + slow:
            sock.close()
    print(f"median latency: {baseline * 1000:.1f} ms alone, {under_load * 1000:.1f} ms with 300 idle + 20 slow")
    assert under_load < baseline * 3 + 0.05
    alive(base)
