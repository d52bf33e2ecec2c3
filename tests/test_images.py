"""Image decoding: every accepted format decodes to upright RGB; every kind of bad bytes is an ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from runtime.errors import BadInput, ImageError
from runtime.inference.images import decode_image


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 40, h: int = 30, mode: str = "RGB") -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1)
    return Image.fromarray(rgb, "RGB").convert(mode)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_accepted_formats_decode_to_rgb(fmt):
    image = decode_image(encode(gradient(), fmt))
    assert image.mode == "RGB" and image.size == (40, 30)


def test_png_is_lossless_and_alpha_is_dropped_not_composited():
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 200, 100, 50, 0  # fully transparent
    image = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.asarray(image)[0, 0].tolist() == [200, 100, 50]


def test_grayscale_becomes_three_equal_channels():
    image = decode_image(encode(gradient(mode="L"), "PNG"))
    px = np.asarray(image)
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()


def test_exif_orientation_is_applied():
    src = gradient(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise on display
    image = decode_image(encode(src, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.size == (30, 40)
    assert np.allclose(
        np.asarray(image, dtype=float), np.asarray(src.transpose(Image.Transpose.ROTATE_270), dtype=float), atol=12
    )


def test_gif_gives_the_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert np.asarray(decode_image(buf.getvalue()))[0, 0].tolist() == [255, 0, 0]


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


BAD = {
    "empty": b"",
    "text": b"hello, this is not an image",
    "json": b'{"image": [1, 2, 3]}',
    "tiff": encode(gradient(), "TIFF"),
    "truncated png": encode(gradient(), "PNG")[:60],
    "truncated jpeg": encode(gradient(200, 150), "JPEG")[:300],
    "truncated gif": encode(gradient(), "GIF")[:40],
    "corrupt jpeg": b"\xff\xd8\xff" + b"\x00" * 200,
    "png magic only": b"\x89PNG\r\n\x1a\n",
    "bmp magic only": b"BM" + b"\x00" * 10,
    "webp header only": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    "decompression bomb": png_header(100_000, 100_000),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_bytes_raise_the_typed_error(name):
    with pytest.raises(ImageError) as info:
        decode_image(BAD[name])
    assert isinstance(info.value, BadInput) and info.value.code == 5006
    assert info.value.message


def test_pixel_limit_is_configurable():
    data = encode(gradient(40, 30), "PNG")
    with pytest.raises(ImageError, match="over the limit"):
        decode_image(data, max_pixels=1000)
    assert decode_image(data, max_pixels=1200).size == (40, 30)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_random_corruption_never_escapes_as_another_error(fmt):
    rng = np.random.default_rng(0)
    good = encode(gradient(60, 40), fmt)
    for _ in range(150):
        data = bytearray(good)
        for i in rng.integers(8, len(data), size=8):
            data[i] = int(rng.integers(0, 256))
        try:
            decode_image(bytes(data))
        except ImageError:
            pass


# Exact messages: what a user reads in the 5006 error is part of the behaviour.
EXPECTED_MESSAGES = {
    "empty": "image is empty",
    "text": "unsupported or unrecognised image format; expected one of JPEG, PNG, WEBP, GIF, BMP",
    "tiff": "unsupported or unrecognised image format; expected one of JPEG, PNG, WEBP, GIF, BMP",
    "truncated png": "cannot decode PNG image: image file is truncated",
    "truncated jpeg": "cannot decode JPEG image: Truncated File Read",
    "corrupt jpeg": "cannot decode JPEG image: the data is not a valid JPEG file",
    "bmp magic only": "cannot decode BMP image: the data is not a valid BMP file",
    "webp header only": "cannot decode WEBP image: could not create decoder object",
}


@pytest.mark.parametrize("name", list(EXPECTED_MESSAGES))
def test_bad_bytes_messages_are_exact_and_name_no_object_address(name):
    with pytest.raises(ImageError) as info:
        decode_image(BAD[name])
    assert info.value.message == EXPECTED_MESSAGES[name]


def test_webp_is_recognised_by_its_riff_header_alone():
    from runtime.inference.images import sniff_format

    assert sniff_format(b"RIFF\0\0\0\0WEBP") == "WEBP"  # exactly 12 bytes
    assert sniff_format(b"RIFF\0\0\0\0WEB") is None
    assert sniff_format(b"RIFF\0\0\0\0JUNKxxxx") is None  # RIFF, but not WebP (e.g. WAV)
    assert sniff_format(b"RIFX\0\0\0\0WEBPxxxx") is None
    assert sniff_format(b"\0" * 12) is None
    assert sniff_format(encode(gradient(), "WEBP")) == "WEBP"


def test_pixel_limit_message_names_the_size():
    with pytest.raises(ImageError) as info:
        decode_image(encode(gradient(40, 30), "PNG"), max_pixels=1000)
    assert info.value.message == "image is 40x30 = 1200 pixels, over the limit of 1000"


def test_one_pixel_wide_and_one_pixel_high_images_decode():
    assert decode_image(encode(gradient(1, 30), "PNG")).size == (1, 30)
    assert decode_image(encode(gradient(30, 1), "PNG")).size == (30, 1)
    assert decode_image(encode(gradient(1, 1), "BMP")).size == (1, 1)


@pytest.mark.filterwarnings("ignore:Palette images")
def test_a_pillow_warning_during_decoding_is_not_an_error():
    # Converting a palette image whose transparency is given in bytes makes Pillow warn; only decompression-bomb
    # warnings are promoted to errors.
    image = gradient(8, 8).convert("P")
    data = encode(image, "PNG", transparency=b"\x00" * 10)
    rgb = decode_image(data)
    assert rgb.mode == "RGB" and rgb.size == (8, 8)


def test_a_bomb_over_pillows_own_limit_is_refused_with_its_reason(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageError) as info:
        decode_image(encode(gradient(40, 30), "PNG"))  # 1200 > 2 x 100: Pillow's DecompressionBombError
    assert info.value.message.startswith("image is too large to decode safely (Image size (1200 pixels) exceeds")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError) as info:
        decode_image(encode(gradient(40, 30), "PNG"))  # over Pillow's limit but under twice it: the warning, promoted
    assert info.value.message.startswith("image is too large to decode safely (Image size (1200 pixels) exceeds")
