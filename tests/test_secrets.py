"""No secret the emulator is given (api_token, HF_TOKEN, .dev.vars values) ends up in anything it writes: its
log, its state folder (ledger, pulled models), its answers, the dashboard's JSON."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
from support import DETR, FIXTURES, ROOT, DevServer

SECRETS = {"api_token": "tok-7f3a9c1e55", "HF_TOKEN": "hf_secretvalue0042", "DB_PASSWORD": "pw-aa91bb72cc"}


def test_no_secret_is_written_anywhere(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "worker", project / "worker", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    (project / "wrangler-like.toml").write_text(
        f'name = "s"\nmain = "worker/entry.py"\n[ai]\nbinding = "AI"\n[emulator]\nstate_dir = ".emu"\n'
        f'api_token = "{SECRETS["api_token"]}"\nweights = "stand-in"\nreload = false\n'
    )
    (project / ".dev.vars").write_text(f'DB_PASSWORD="{SECRETS["DB_PASSWORD"]}"\n')
    env = {**os.environ, "HF_TOKEN": SECRETS["HF_TOKEN"], "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    dev = DevServer(cwd=project, env=env, log=tmp_path / "dev.log", timeout_s=60)
    base = dev.base
    auth = {"authorization": f"Bearer {SECRETS['api_token']}"}
    image = (FIXTURES / "images" / "cats-640x480.jpg").read_bytes()
    answers: list[httpx.Response] = []
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            answers += [
                http.post("/", content=image),  # the Worker (not behind the token)
                http.post(f"/client/v4/accounts/a/ai/run/{DETR}", content=image, headers=auth),
                http.post(
                    f"/client/v4/accounts/a/ai/run/{DETR}",
                    content=image,
                    headers={"authorization": "Bearer wrong-" + SECRETS["api_token"]},
                ),
                http.post(f"/client/v4/accounts/a/ai/run/{DETR}?token={SECRETS['api_token']}", content=image),
                http.get(f"/cdn-cgi/emu/dashboard?token={SECRETS['api_token']}"),
                http.get("/cdn-cgi/emu/costs", headers=auth),
                http.get("/cdn-cgi/emu/requests", headers=auth),
                http.get("/cdn-cgi/emu/metrics", headers=auth),
                http.get("/cdn-cgi/emu/health"),
            ]
    finally:
        log = dev.stop()
    assert answers[1].status_code == 200 and answers[2].status_code == 401 and answers[5].status_code == 200
    written = [log] + [a.text for a in answers] + [str(dict(a.headers)) for a in answers]
    for path in (project / ".emu").rglob("*"):
        if path.is_file():
            written.append(path.read_bytes().decode("latin-1"))
    assert len(written) > 15 and " POST / 200 " in log
    for name, secret in SECRETS.items():
        leaks = [i for i, text in enumerate(written) if secret in text]
        assert leaks == [], f"{name} appears in what the emulator wrote: {leaks}"
