"""Requests a door refuses before inference (bad token, oversized or unparsable body) still leave one ledger row."""

from __future__ import annotations

import httpx
from api_support import DETR, PNG, ledger_rows, make_service, serve


def test_refused_inference_requests_are_metered_at_no_cost(tmp_path):
    service = make_service(tmp_path, api_token="s3cret", max_body_bytes=len(PNG) + 10)
    auth = {"Authorization": "Bearer s3cret"}
    with serve(service) as base:
        with httpx.Client(base_url=base) as client:
            cf = f"/client/v4/accounts/a/ai/run/{DETR}"
            hf = "/hf-inference/models/facebook/detr-resnet-50"
            answers = [
                client.post(cf, content=PNG),  # no token
                client.post(cf, content=PNG * 2, headers=auth),  # too large
                client.post(cf, content=b"{broken", headers={**auth, "content-type": "application/json"}),
                client.post(hf, content=PNG, headers={"Authorization": "Bearer wrong"}),
                client.post(hf, content=b'{"inputs": 12}', headers={**auth, "content-type": "application/json"}),
                client.post(cf, content=PNG, headers=auth),  # billed
            ]
    assert [a.status_code for a in answers] == [401, 413, 400, 401, 400, 200]
    rows = ledger_rows(service)
    assert [r["request_id"] for r in rows] == [a.headers["x-emu-request-id"] for a in answers]
    assert [r["outcome"] for r in rows] == [
        "error:10000",
        "error:3006",
        "error:5006",
        "error:10000",
        "error:5006",
        "ok",
    ]
    assert [r["cost"] for r in rows] == ["0"] * 5 + ["0.0000075"]
    assert {r["model"] for r in rows} == {DETR}
    assert [r["source"] for r in rows] == ["rest", "rest", "rest", "hf", "hf", "rest"]
