"""Image bytes to a checked, upright RGB PIL image: decoded once, for every model family."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError
from ..settings import default_of

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
DEFAULT_MAX_PIXELS: int = default_of("max_image_pixels")

# Magic numbers, checked before Pillow sees the bytes so that formats we do not serve (TIFF, PSD, ...)
# are refused by name rather than half-decoded.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


def sniff_format(data: bytes) -> str | None:
    """The image format named by the leading bytes, or None."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode image bytes as transformers' `load_image` does: EXIF orientation applied, then `convert("RGB")`.

    Raises ImageError (a BadInput, Workers AI code 5006) for empty, unknown, truncated, corrupt or oversized
    images; never anything else.
    """
    if not data:
        raise ImageError("image is empty")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError(f"unsupported or unrecognised image format; expected one of {', '.join(FORMATS)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width <= 0 or height <= 0:  # pragma: no mutate (Pillow refuses such files itself; kept as a guard)
                raise ImageError("image has no pixels")  # pragma: no mutate
            if width * height > max_pixels:
                raise ImageError(f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")
            image.load()  # GIF: the first frame
            ImageOps.exif_transpose(image, in_place=True)
            rgb = image if image.mode == "RGB" else image.convert("RGB")
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image is too large to decode safely ({e})") from None
    except UnidentifiedImageError:  # Pillow's own message names the BytesIO object's address: no use to anyone
        raise ImageError(f"cannot decode {fmt} image: the data is not a valid {fmt} file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as e:
        detail = str(e) or type(e).__name__
        raise ImageError(f"cannot decode {fmt} image: {detail}") from None
    except Exception as e:  # noqa: BLE001 - Pillow plugins raise a wide variety on hostile input
        raise ImageError(f"cannot decode {fmt} image: {type(e).__name__}: {e}") from None
    return rgb
