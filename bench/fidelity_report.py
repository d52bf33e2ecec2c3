"""Prints how closely the emulator reproduces transformers on the committed reference fixtures.

    .venv/bin/python bench/fidelity_report.py

The tests assert the tolerances (scores 2e-3, boxes 1 px, logits 2e-4 relative); this prints the actual worst
deviations across every case, so the margin is visible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from runtime.inference.images import decode_image
from runtime.tasks import load_model

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def main() -> None:
    for model in ("detr", "resnet", "vit"):
        expected = json.loads((FIXTURES / "expected" / f"{model}.json").read_text())
        loaded = load_model(FIXTURES / "models" / model, task=expected["meta"]["task"])
        family = loaded.family
        worst = {"pixel": 0.0, "logit_rel": 0.0, "score": 0.0, "box_px": 0}
        runs = results = skipped = 0
        label_mismatches = 0
        for case in expected["cases"]:
            folder = SHARED_IMAGES if case["location"] == "shared" else FIXTURES / "images"
            path = folder / case["image"]
            if not path.exists():
                skipped += 1
                continue
            data = path.read_bytes()
            pixels = family.pixel_values_for(decode_image(data))
            for probe in case["pixel_values"]["probes"]:
                diff = np.abs(pixels[0, :, probe["y"], probe["x"]] - np.asarray(probe["values"])).max()
                worst["pixel"] = max(worst["pixel"], float(diff))
            feeds = {family.pixel_values: pixels}
            if "pixel_mask" in family.inputs:
                feeds["pixel_mask"] = np.ones((1,) + pixels.shape[2:], dtype=np.int64)
            out = family.run(feeds)
            for name, want in case["raw"].items():
                want = np.asarray(want, dtype=np.float32)
                rel = np.abs(out[name][0] - want).max() / max(1.0, float(np.abs(want).max()))
                worst["logit_rel"] = max(worst["logit_rel"], float(rel))
            for run in case["runs"]:
                runs += 1
                got = loaded.predict(data, family.check_params(run["params"]))
                if [g["label"] for g in got] != [w["label"] for w in run["output"]]:
                    label_mismatches += 1
                    continue
                for g, w in zip(got, run["output"]):
                    results += 1
                    worst["score"] = max(worst["score"], abs(g["score"] - w["score"]))
                    if "box" in w:
                        worst["box_px"] = max(worst["box_px"], max(abs(g["box"][k] - w["box"][k]) for k in w["box"]))
        print(
            f"{model:7s} runs {runs:3d}  results {results:4d}  label/order mismatches {label_mismatches}  "
            f"max |score| {worst['score']:.1e}  max box {worst['box_px']} px  "
            f"max logit (rel) {worst['logit_rel']:.1e}  max pixel value {worst['pixel']:.1e}"
            + (f"  (skipped {skipped} cases: ../shared absent)" if skipped else "")
        )


if __name__ == "__main__":
    main()
