"""int8 variants of a model folder's ONNX graph, made locally, and how far they move from FP32.

`workers-ai-emu models quantize NAME --images ...` (runtime/commands/models.py) calls `quantize_folder`:
- **static** QDQ quantization of the convolutions (and Gemm), calibrated on the given images put through the
  model's own pre-processing, for graphs whose work is convolutions (ResNet, DETR's backbone): weights int8 per
  channel, activations uint8; DETR's transformer stays FP32, since static int8 attention moves its outputs most;
- **dynamic** quantization of MatMul/Gemm weights (activations quantized at run time) for transformer graphs
  (ViT): convolutions stay FP32, since dynamic int8 convolutions (ConvInteger) run slower than FP32 on CPUs.
The variant is written beside the original (`onnx/model_quantized.onnx` unless named) with a JSON report: the
speed ratio against FP32 on the same images (graph only, medians, interleaved) and how far the outputs move
(top-1 agreement and score deltas for classifiers; matched detections, score and box deltas for detectors).
FP32 stays the default: a variant answers only once the model's `variant` names it.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmuError, ModelError
from ..tasks import load_model
from .classification import ClassifierFamily
from .model import LoadedModel, Prepared

METHODS = ("auto", "static", "dynamic")
CONV_OPS = {"Conv", "ConvTranspose"}
MATMUL_OPS = {"MatMul", "Gemm"}


@dataclass
class QuantizeReport:
    model: str
    method: str
    source: str
    variant: str
    images: int
    fp32_ms: float
    int8_ms: float
    speed_ratio: float  # FP32 time / int8 time: above 1 is faster
    fp32_bytes: int
    int8_bytes: int
    agreement: dict[str, Any] = field(default_factory=dict)
    op_counts: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def op_weights(path: Path) -> Counter[str]:
    """Per operator type: how many nodes, and (under "<op> weights") how many weight values they hold."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    sizes = {t.name: int(np.prod(t.dims)) for t in graph.initializer}
    counts: Counter[str] = Counter()
    for node in graph.node:
        counts[node.op_type] += 1
        counts[f"{node.op_type} weights"] += sum(sizes.get(i, 0) for i in node.input)
    return counts


def choose_method(counts: Counter[str]) -> str:
    """Static for graphs whose weights sit mostly in convolutions (ResNet; DETR, whose ResNet backbone is most of
    its work), dynamic (MatMul/Gemm only) for transformer graphs (ViT)."""
    convs = sum(counts[f"{o} weights"] for o in CONV_OPS)
    matmuls = sum(counts[f"{o} weights"] for o in MATMUL_OPS)
    return "static" if convs >= matmuls else "dynamic"


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over already prepared feeds."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _static(source: Path, target: Path, feeds: Sequence[dict[str, np.ndarray]]) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="emu-quantize-") as tmp:
        prepped = Path(tmp) / "pre.onnx"
        try:  # shape inference and graph clean-up first, as onnxruntime recommends; optional
            quant_pre_process(str(source), str(prepped), skip_symbolic_shape=True)
            model_input = prepped
        except Exception:  # noqa: BLE001 - some exports do not survive it; quantize the original then
            model_input = source
        quantize_static(
            str(model_input),
            str(target),
            _Calibration(feeds),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=sorted(CONV_OPS | {"Gemm"}),  # transformer blocks (MatMul) stay FP32: see above
        )


def _dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=sorted(MATMUL_OPS))


def _median_ms(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _iou(a: dict[str, int], b: dict[str, int]) -> float:
    w = max(0, min(a["xmax"], b["xmax"]) - max(a["xmin"], b["xmin"]))
    h = max(0, min(a["ymax"], b["ymax"]) - max(a["ymin"], b["ymin"]))
    area = lambda r: max(0, r["xmax"] - r["xmin"]) * max(0, r["ymax"] - r["ymin"])  # noqa: E731
    union = area(a) + area(b) - w * h
    return w * h / union if union > 0 else 0.0


def compare_outputs(classifier: bool, pairs: Sequence[tuple[list[dict], list[dict]]]) -> dict[str, Any]:
    """How far int8 outputs are from FP32 ones, over (fp32, int8) result pairs of the same images: top-1 labels
    and scores for a classifier's, matched boxes for a detector's."""
    if classifier:
        same = [bool(f and q and f[0]["label"] == q[0]["label"]) for f, q in pairs]
        deltas = []
        for f, q in pairs:
            scores = {r["label"]: r["score"] for r in q}
            deltas += [abs(r["score"] - scores[r["label"]]) for r in f if r["label"] in scores]
        return {
            "top1_agreement": sum(same) / len(same) if same else 1.0,
            "max_score_delta": max(deltas, default=0.0),
            "mean_score_delta": statistics.fmean(deltas) if deltas else 0.0,
        }
    fp32_total = matched = 0
    score_deltas: list[float] = []
    box_deltas: list[int] = []
    extra = 0
    for f, q in pairs:
        fp32_total += len(f)
        free = list(q)
        for d in f:
            best = max(
                (c for c in free if c["label"] == d["label"]),
                key=lambda c: _iou(d["box"], c["box"]),
                default=None,
            )
            if best is None or _iou(d["box"], best["box"]) < 0.5:
                continue
            free.remove(best)
            matched += 1
            score_deltas.append(abs(d["score"] - best["score"]))
            box_deltas.append(max(abs(d["box"][k] - best["box"][k]) for k in d["box"]))
        extra += len(free)
    return {
        "fp32_detections": fp32_total,
        "matched": matched,
        "matched_fraction": matched / fp32_total if fp32_total else 1.0,
        "unmatched_int8_detections": extra,
        "max_score_delta": max(score_deltas, default=0.0),
        "max_box_delta_px": max(box_deltas, default=0),
    }


def quantize_folder(
    folder: Path,
    task: str,
    images: Sequence[bytes],
    *,
    name: str = "",
    source_variant: str = "model.onnx",
    variant: str = "model_quantized.onnx",
    method: str = "auto",
    intra_op_threads: int = 1,
    repeats: int = 5,
    params: dict[str, Any] | None = None,
) -> QuantizeReport:
    """Write `onnx/<variant>` for the model in `folder` and measure it against the FP32 graph."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if not images:
        raise ModelError("quantizing needs images: they calibrate static quantization and measure the result")
    fp32 = load_model(folder, task=task, variant=source_variant, intra_op_threads=intra_op_threads)
    if fp32.onnx_path is None or not fp32.onnx_path.is_file():
        raise ModelError(f"{folder} is not a vision model with one ONNX graph; `models quantize` quantizes those")
    source = fp32.onnx_path
    prepared: list[Prepared] = []
    for data in images:
        try:
            prepared.append(fp32.prepare(data))
        except EmuError as e:
            raise ModelError(f"an image given for quantizing cannot be used: {e.message}") from None
    counts = op_weights(source)
    chosen = choose_method(counts) if method == "auto" else method
    target = source.with_name(variant)
    if target == source:
        raise ModelError(f"the quantized variant would overwrite {target}: name another file")
    if chosen == "static":
        _static(source, target, [p.feeds for p in prepared])
    else:
        _dynamic(source, target)
    int8 = load_model(folder, task=task, variant=variant, intra_op_threads=intra_op_threads)
    checked = fp32.family.check_params(params or {})
    fp32_ms: list[float] = []
    int8_ms: list[float] = []
    pairs = []
    for p in prepared:  # interleaved, one warm-up each, so that both meet the same machine
        for model, sink in ((fp32, fp32_ms), (int8, int8_ms)):
            model.family.run(p.feeds)
            sink.append(_median_ms(functools.partial(model.family.run, p.feeds), repeats))
        pairs.append((_finish(fp32, p, checked), _finish(int8, p, checked)))
    f_ms, q_ms = statistics.median(fp32_ms), statistics.median(int8_ms)
    return QuantizeReport(
        model=name or str(folder),
        method=chosen,
        source=source.name,
        variant=variant,
        images=len(prepared),
        fp32_ms=round(f_ms, 3),
        int8_ms=round(q_ms, 3),
        speed_ratio=round(f_ms / q_ms, 3) if q_ms > 0 else 0.0,
        fp32_bytes=source.stat().st_size,
        int8_bytes=target.stat().st_size,
        agreement=compare_outputs(isinstance(fp32.family, ClassifierFamily), pairs),
        op_counts={k: v for k, v in sorted(counts.items()) if k.split()[0] in CONV_OPS | MATMUL_OPS and v},
    )


def _finish(model: LoadedModel, prepared: Prepared, params: dict[str, Any]) -> list[dict]:
    return model.family.finish(model.family.run(prepared.feeds), prepared, params)
