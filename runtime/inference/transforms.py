"""Image-processor arithmetic shared by the families: output sizes, resizing, cropping, normalising.

Sizes follow transformers' image processors to the pixel (their `int()` truncations included); resizing is
Pillow's, as in transformers' PIL backend; rescale + normalise is one table look-up per channel, computed
with the same float arithmetic transformers uses, so results match it exactly without per-pixel Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ImageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STANDARD_MEAN = STANDARD_STD = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def size_with_aspect_ratio(height: int, width: int, shortest: int, longest: int | None) -> tuple[int, int]:
    """(height, width) with the shortest edge `shortest` and the longest at most `longest` (DETR's rule)."""
    size = shortest
    raw_size = None
    if longest is not None:
        lo, hi = float(min(height, width)), float(max(height, width))
        if hi / lo * size > longest:
            raw_size = longest * lo / hi
            size = int(round(raw_size))
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    scale = raw_size if raw_size is not None else size
    if width < height:
        return int(scale * height / width), size
    return size, int(scale * width / height)


def size_shortest_edge(height: int, width: int, shortest: int) -> tuple[int, int]:
    """(height, width) with the shortest edge `shortest`, aspect ratio kept (not square)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest, int(shortest * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


MAX_RESIZED_PIXELS = 16_000_000  # far above any processor's target size (DETR: at most 1333 × 1333)


def resize(image: Image.Image, height: int, width: int, resample: int) -> Image.Image:
    """The one resize of every processor. An aspect ratio so extreme that the processor's target size is empty or
    enormous (a 1 × 100,000 image) is bad input, never an internal error or a memory blow-up."""
    if height < 1 or width < 1 or height * width > MAX_RESIZED_PIXELS:
        w, h = image.size
        raise ImageError(
            f"the image's aspect ratio ({w}x{h}) is too extreme for this model: its processor would resize it to "
            f"{width}x{height}"
        )
    if image.size == (width, height):
        return image
    return image.resize((width, height), resample=Image.Resampling(resample))


def center_crop(image: Image.Image, height: int, width: int) -> Image.Image:
    """Centre crop as transformers does it. A crop larger than the image is zero-padded: transformers pads by
    ceil(excess / 2) on the top/left, and Pillow's crop fills the area outside the image with zeros from
    floor(-excess / 2), the same offset, so one crop covers both cases."""
    w, h = image.size
    top, left = (h - height) // 2, (w - width) // 2
    return image.crop((left, top, left + width, top + height))


def lookup_tables(
    rescale: float | None, mean: Sequence[float] | None, std: Sequence[float] | None, dtype: Any = np.float32
) -> np.ndarray:
    """Per-channel tables mapping a uint8 value to its model input value: shape (3, 256)."""
    values: np.ndarray = np.arange(256)
    if rescale is not None:
        values = values * rescale
    tables = np.repeat(values.astype(np.float32)[None, :], 3, axis=0)
    if mean is not None and std is not None:
        m = np.asarray(mean, dtype=np.float32).reshape(3, 1)
        s = np.asarray(std, dtype=np.float32).reshape(3, 1)
        tables = (tables - m) / s
    return tables.astype(dtype)


def to_tensor(image: Image.Image, tables: np.ndarray, bgr: bool = False) -> np.ndarray:
    """RGB PIL image -> [1, 3, H, W] model input via the per-channel tables (no per-pixel Python)."""
    pixels = np.asarray(image)  # (H, W, 3) uint8, a view of Pillow's buffer copy
    out = np.empty((1, 3, pixels.shape[0], pixels.shape[1]), dtype=tables.dtype)
    order = (2, 1, 0) if bgr else (0, 1, 2)
    for dst, src in enumerate(order):
        np.take(tables[dst], pixels[:, :, src], out=out[0, dst])
    return out


def processor_size(config: Mapping[str, Any], key: str = "size") -> dict[str, int]:
    """A processor's size setting as a dict (old configs store a bare int meaning the shortest edge)."""
    size = config.get(key)
    if size is None:
        return {}
    if isinstance(size, int):
        return {"shortest_edge": size}
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return {"height": int(size[0]), "width": int(size[1])}
    return {k: int(v) for k, v in dict(size).items() if v is not None}
