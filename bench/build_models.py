"""Build full-size, random-weight stand-ins for the emulated models (dev-only, for the benchmarks).

    HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/build_models.py [--only detr,resnet,vit] [--force]

The real checkpoints cannot be downloaded here, but compute cost depends on the architecture and the input
size, not on the weight values, so a random-weight model of the same layout costs the same. Each model lands in
`bench/.models/<name>/` (gitignored) in the Hugging Face layout: `config.json`, `model.safetensors` (for
transformers' own pipeline in bench_transformers.py), `preprocessor_config.json` and `onnx/model.onnx`.

Needs torch (CPU), transformers 5.x, onnx and onnxruntime; never timm, torchvision or the network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / ".models"
SEED = 2024
NAMES = ("detr", "resnet", "vit")

# The real models' image processor settings (facebook/detr-resnet-50, microsoft/resnet-50,
# google/vit-base-patch16-224).
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def coco_labels() -> dict[int, str]:
    """facebook/detr-resnet-50's 91 COCO ids, as recorded in the committed tiny DETR fixture."""
    path = REPO / "tests" / "fixtures" / "models" / "detr" / "config.json"
    try:
        return {int(k): v for k, v in json.loads(path.read_text())["id2label"].items()}
    except (OSError, KeyError, ValueError):
        return {i: f"LABEL_{i}" for i in range(91)}


def resnet50_backbone(**extra):
    from transformers import ResNetConfig

    return ResNetConfig(
        num_channels=3,
        embedding_size=64,
        hidden_sizes=[256, 512, 1024, 2048],
        depths=[3, 4, 6, 3],
        layer_type="bottleneck",
        hidden_act="relu",
        downsample_in_first_stage=False,
        **extra,
    )


def spread_head(model, linear, probe: dict, std: float, seed: int) -> None:
    """Re-draw a random classifier head so its logits have a spread of about `std` on a probe input.

    Default random heads give either flat scores (ties) or one saturated class; a calibrated spread makes
    the label/score agreement check between the emulator and transformers meaningful.
    """
    import torch

    seen = []
    hook = linear.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach()))
    with torch.no_grad():
        model(**probe)
    hook.remove()
    x = seen[0].reshape(-1, seen[0].shape[-1])
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = torch.randn(linear.weight.shape, generator=g)
        logits = x @ w.T
        w *= std / logits.std()
        linear.weight.copy_(w)
        linear.bias.copy_(torch.randn(linear.bias.shape, generator=g) * 0.5)


def probe(h: int, w: int, mask: bool = False) -> dict:
    import torch

    pv = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(SEED + 99))
    return {"pixel_values": pv, **({"pixel_mask": torch.ones(1, h, w, dtype=torch.int64)} if mask else {})}


def build_detr():
    import torch
    from transformers import DetrConfig, DetrForObjectDetection
    from transformers.models.detr.image_processing_pil_detr import DetrImageProcessorPil

    torch.manual_seed(SEED)
    labels = coco_labels()
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone=None,
        backbone_config=resnet50_backbone(out_features=["stage4"]),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    model = DetrForObjectDetection(config).eval()
    spread_head(model, model.class_labels_classifier, probe(256, 320, mask=True), 2.0, SEED + 1)
    return model, DetrImageProcessorPil()


def build_resnet():
    import torch
    from transformers import ResNetForImageClassification
    from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil

    torch.manual_seed(SEED + 10)
    config = resnet50_backbone(num_labels=1000)
    model = ResNetForImageClassification(config).eval()
    spread_head(model, model.classifier[-1], probe(224, 224), 2.5, SEED + 11)
    proc = ConvNextImageProcessorPil(
        crop_pct=0.875,
        size={"shortest_edge": 224},
        resample=3,
        image_mean=IMAGENET_MEAN,
        image_std=IMAGENET_STD,
        do_resize=True,
        do_rescale=True,
        do_normalize=True,
    )
    return model, proc


def build_vit():
    import torch
    from transformers import ViTConfig, ViTForImageClassification
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    torch.manual_seed(SEED + 20)
    config = ViTConfig(image_size=224, patch_size=16, num_labels=1000)  # base: 768 hidden, 12 layers, 12 heads
    model = ViTForImageClassification(config).eval()
    spread_head(model, model.classifier, probe(224, 224), 2.5, SEED + 21)
    proc = ViTImageProcessorPil(
        size={"height": 224, "width": 224},
        resample=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        do_resize=True,
        do_rescale=True,
        do_normalize=True,
    )
    return model, proc


BUILDERS = {"detr": build_detr, "resnet": build_resnet, "vit": build_vit}


def export(name: str, model, folder: Path) -> Path:
    """Legacy (TorchScript) exporter, opset 17, weights inline; DETR gets dynamic height/width."""
    import torch

    path = folder / "onnx" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)

    class Detr(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values, pixel_mask):
            out = self.m(pixel_values=pixel_values, pixel_mask=pixel_mask)
            return out.logits, out.pred_boxes

    class Classifier(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).logits

    if name == "detr":
        wrap = Detr(model).eval()
        args = (torch.randn(1, 3, 256, 320), torch.ones(1, 256, 320, dtype=torch.int64))
        inputs, outputs = ["pixel_values", "pixel_mask"], ["logits", "pred_boxes"]
        axes = {
            "pixel_values": {0: "batch_size", 2: "height", 3: "width"},
            "pixel_mask": {0: "batch_size", 1: "height", 2: "width"},
            "logits": {0: "batch_size"},
            "pred_boxes": {0: "batch_size"},
        }
    else:
        wrap = Classifier(model).eval()
        args = (torch.randn(1, 3, 224, 224),)
        inputs, outputs = ["pixel_values"], ["logits"]
        axes = {"pixel_values": {0: "batch_size"}, "logits": {0: "batch_size"}}
    with torch.no_grad():
        torch.onnx.export(
            wrap,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
        )
    import onnx

    proto = onnx.load(str(path))
    for extra in path.parent.glob("*.data"):
        extra.unlink()
    onnx.save_model(proto, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path))
    return path


def check(name: str, model, path: Path) -> float:
    """Largest |onnxruntime - torch| on the first output, at the size the cats photo is run at."""
    import onnxruntime as ort
    import torch

    h, w = (800, 1066) if name == "detr" else (224, 224)
    pv = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(7))
    feeds = {"pixel_values": pv.numpy()}
    with torch.no_grad():
        if name == "detr":
            mask = torch.ones(1, h, w, dtype=torch.int64)
            feeds["pixel_mask"] = mask.numpy()
            want = model(pixel_values=pv, pixel_mask=mask).logits.numpy()
        else:
            want = model(pixel_values=pv).logits.numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], feeds)[0]
    return float(np.abs(got - want).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated subset of detr,resnet,vit")
    parser.add_argument("--force", action="store_true", help="rebuild models that already exist")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"skipped: needs torch and transformers ({e}); run with .venv-ref/bin/python", file=sys.stderr)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        name = name.strip()
        if name not in BUILDERS:
            parser.error(f"unknown model {name!r}")
        folder = OUT / name
        if (folder / "onnx" / "model.onnx").is_file() and not args.force:
            print(f"{name}: already built in {folder} (use --force to rebuild)")
            continue
        t0 = time.perf_counter()
        model, proc = BUILDERS[name]()
        params = sum(p.numel() for p in model.parameters())
        model.save_pretrained(folder)
        proc.save_pretrained(folder)
        path = export(name, model, folder)
        diff = check(name, model, path)
        mb = path.stat().st_size / 1e6
        print(
            f"{name}: {params / 1e6:.1f}M parameters, {path.relative_to(REPO)} {mb:.0f} MB, "
            f"max |ort - torch| logits {diff:.2e}, built in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
