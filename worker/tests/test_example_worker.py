"""Tests of the example Worker, written with the workers-ai-emu pytest plugin (fixtures `worker` and `ai`).

They run the Worker in-process against real inference (the bundled stand-in detector unless real weights are
chosen with --emu-weights), real metering and Cloudflare's failures on demand.
"""

from pathlib import Path

IMAGE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "images" / "cats-640x480.jpg"
MODEL = "@cf/facebook/detr-resnet-50"


def test_detections_come_back_with_their_boxes(worker, ai):
    r = worker.post("/", content=IMAGE.read_bytes())
    assert r.status_code == 200
    detections = r.json()["detections"]
    assert "cat" in [d["label"] for d in detections]
    for d in detections:  # what the page draws: a labelled box inside the 640×480 image
        box = d["box"]
        assert 0 <= box["xmin"] < box["xmax"] <= 640 and 0 <= box["ymin"] < box["ymax"] <= 480
    assert [(c.model, c.door, c.outcome) for c in ai.calls] == [(MODEL, "binding", "ok")]


def test_the_page_is_served(worker):
    page = worker.get("/")
    assert page.status_code == 200 and "<canvas" in page.text


def test_out_of_capacity_is_surfaced_as_retry_later(worker, ai):
    ai.fail_next(3040)
    busy = worker.post("/", content=IMAGE.read_bytes())
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"] == "3040: Capacity temporarily exceeded, please try again."
    again = worker.post("/", content=IMAGE.read_bytes())  # the fault was for the next call only
    assert again.status_code == 200
    assert [c.outcome for c in ai.calls] == ["error:3040", "ok"]


def test_a_request_costs_the_models_listed_price(worker, ai, emu):
    worker.post("/", content=IMAGE.read_bytes())
    assert ai.spent == emu.catalog.get(MODEL).price  # $0.0000075 for detr-resnet-50


def test_bad_input_is_a_400_with_the_binding_error(worker, ai):
    r = worker.post("/", content=b"not an image")
    assert r.status_code == 400 and r.json()["error"].startswith("5006: ")
    assert ai.spent == 0  # failures are not billed
