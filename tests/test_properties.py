"""Property tests (hypothesis) for what parses untrusted input: whatever comes in, the answer is the parsed value
or the typed error, never another exception.

- image decoding (runtime/inference/images.py): any bytes, real images mutated, and images of any size and mode;
- the `{"image": [...]}` converter (runtime/inputs.py): any JSON value;
- request parameters (`Param.check`, runtime/inference/model.py): any JSON value, for every declared parameter;
- the config loader (runtime/config/): any TOML or JSONC text, including the emulator's own keys at any value;
- `.dev.vars`: any text or bytes, and KEY=value lines read back exactly.

Each property keeps max_examples modest so the file stays well under a minute on two cores.
"""

from __future__ import annotations

import io
import json
import math
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from support import FIXTURES

from runtime.config import load_settings, read_dev_vars
from runtime.errors import BadInput, ConfigError, EmuError, ImageError, MissingBody
from runtime.inference.images import decode_image
from runtime.settings import EMULATOR_FIELDS, Settings
from runtime.tasks import families
from runtime.tasks.binary import uint8_bytes
from runtime.tasks.vision import image_bytes

pytestmark = pytest.mark.timeout(120)

FEW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

IMAGES = {p.name: p.read_bytes() for p in (FIXTURES / "images").iterdir() if p.stat().st_size < 40_000}

# JSON values, as a request body decodes to (orjson: integers within 64 bits; Workers' Python side: any int).
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
)
ANY_JSON = st.recursive(
    JSON_SCALARS | st.floats(), lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner)
)


# --- image decoding ------------------------------------------------------------------------------------------


def decodes_or_refuses(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=4_000_000)
    except ImageError as e:
        assert e.code == 5006 and e.message
        return
    assert image.mode == "RGB" and image.width > 0 and image.height > 0
    assert image.width * image.height <= 4_000_000


@SOME
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_give_the_image_error(data):
    decodes_or_refuses(data)


@SOME
@given(
    st.sampled_from(sorted(IMAGES)),
    st.lists(st.tuples(st.integers(0, 39_999), st.integers(0, 255)), max_size=12),
    st.integers(0, 40_000),
)
def test_real_images_with_bytes_flipped_and_cut_decode_or_give_the_image_error(name, flips, cut):
    data = bytearray(IMAGES[name])
    for at, value in flips:
        data[at % len(data)] = value
    decodes_or_refuses(bytes(data[: max(cut, 1)]))


@FEW
@given(
    st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]),
    st.sampled_from(["PNG", "GIF", "BMP", "JPEG", "WEBP"]),
    st.integers(1, 3000),
    st.integers(1, 40),
)
def test_images_of_any_mode_and_shape_decode_to_rgb_of_their_size(mode, fmt, long_side, short_side):
    try:
        out = io.BytesIO()
        Image.new(mode, (long_side, short_side)).save(out, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # Pillow cannot write this mode in this format: nothing to decode
    image = decode_image(out.getvalue())
    assert image.mode == "RGB" and image.size == (long_side, short_side)


# --- the {"image": [...]} converter ----------------------------------------------------------------------------


@SOME
@given(ANY_JSON)
def test_any_json_value_is_bytes_or_bad_input(value):
    try:
        data = uint8_bytes(value)
    except BadInput as e:
        assert e.code == 5006
        return
    # what it accepts: a list of byte values (Python's bytes() counts true/false as 1/0)
    assert isinstance(value, list) and all(isinstance(v, int) and 0 <= v <= 255 for v in value)
    assert data == bytes(value)


@SOME
@given(st.lists(st.integers(0, 255), max_size=64) | st.lists(st.integers(-(2**70), 2**70), max_size=8))
def test_lists_of_integers_are_their_bytes_or_name_the_bad_value(values):
    try:
        data = uint8_bytes(values)
    except BadInput as e:
        bad = next(v for v in values if not 0 <= v <= 255)
        assert repr(bad) in e.message
        return
    assert data == bytes(values)


@SOME
@given(JSON | st.dictionaries(st.sampled_from(["image", "threshold", "top_k", "x"]), JSON, max_size=3))
def test_any_request_inputs_split_into_bytes_and_the_rest_or_a_coded_error(inputs):
    try:
        data, rest = image_bytes(inputs)
    except (BadInput, MissingBody) as e:
        assert e.code in (5006, 3003)
        return
    assert data and isinstance(data, bytes)
    if isinstance(inputs, dict):
        assert rest == {k: v for k, v in inputs.items() if k != "image"}


# --- parameters ------------------------------------------------------------------------------------------------

PARAMS = sorted({(name, param) for family in families() for name, param in family.params.items()}, key=lambda p: p[0])


@SOME
@given(st.sampled_from(PARAMS), ANY_JSON | st.integers(-(10**400), 10**400))
@example(PARAMS[1], 10**400)  # threshold: was an OverflowError (a 3043 on every door)
def test_any_parameter_value_is_checked_or_bad_input(named, value):
    name, param = named
    try:
        checked = param.check(name, value)
    except BadInput as e:
        assert e.code == 5006 and repr(name) in e.message
        return
    if param.kind == "number":
        assert isinstance(checked, float) and math.isfinite(checked)
        assert (param.minimum is None or checked >= param.minimum) and (
            param.maximum is None or checked <= param.maximum
        )
    elif param.kind == "integer":
        assert type(checked) is int and (param.minimum is None or checked >= param.minimum)
    else:
        assert isinstance(checked, str) and (not param.choices or checked in param.choices)


# --- the config loader -----------------------------------------------------------------------------------------

TOP_KEYS = ["name", "main", "compatibility_date", "ai", "vars", "emulator", "account_id", "bogus"]
EMU_KEYS = sorted(EMULATOR_FIELDS) + ["bogus"]
MODEL_KEYS = ["name", "task", "hf_id", "price", "path", "defaults", "aliases", "listed", "beta", "bogus"]
TASKS = ["object-detection", "image-classification", "text-generation"]
VALUES = JSON | st.sampled_from(TASKS) | st.integers(-(10**400), 10**400) | st.floats()


def structured_config() -> st.SearchStrategy[dict]:
    model = st.dictionaries(st.sampled_from(MODEL_KEYS), VALUES | st.sampled_from(["@cf/facebook/detr-resnet-50"]))
    ai = st.dictionaries(
        st.sampled_from(["binding", "models", "remote", "bogus"]), VALUES | st.lists(model, max_size=3), max_size=3
    )
    emulator = st.dictionaries(st.sampled_from(EMU_KEYS), VALUES, max_size=4)
    return st.fixed_dictionaries(
        {},
        optional={
            "name": VALUES,
            "main": VALUES,
            "compatibility_date": VALUES | st.just("2025-01-31"),
            "ai": ai | VALUES,
            "vars": st.dictionaries(st.text(max_size=8), JSON, max_size=3) | VALUES,
            "emulator": emulator | VALUES,
            "account_id": VALUES,
            "bogus": VALUES,
        },
    )


def toml_value(v) -> str:
    """A TOML literal for a JSON-ish value (None has no TOML form: an empty inline table stands in)."""
    if v is None:
        return "{}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, (int, str)):
        return json.dumps(v) if isinstance(v, str) else str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def loads_or_refuses(path: Path) -> None:
    try:
        settings_ = load_settings(path)
    except ConfigError as e:
        assert str(e).startswith(str(path.resolve())) or str(path.name) in str(e), str(e)
        return
    assert isinstance(settings_, Settings)


@SOME
@given(structured_config(), st.sampled_from(["wrangler-like.toml", "wrangler.jsonc"]))
def test_any_config_of_known_keys_loads_or_names_the_file_and_key(tmp_path, data, name):
    path = tmp_path / name
    if name.endswith(".toml"):
        text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items())
    else:
        text = "// a comment\n" + json.dumps(data, indent=1, allow_nan=True)
    path.write_text(text, encoding="utf-8")
    loads_or_refuses(path)


EXTREMES = (
    st.integers(-(10**400), 10**400)
    | st.sampled_from([0, -1, 2**53 + 1, 2**63, 10**309, -(10**309)])
    | st.floats()
    | st.text(max_size=10)
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.sampled_from(["code", "rate", "times", "x"]), st.integers() | st.floats(), max_size=2)
)


@SOME
@given(st.sampled_from(EMU_KEYS), EXTREMES, st.sampled_from(["wrangler-like.toml", "wrangler.jsonc"]))
@example("queue_timeout_s", 10**400, "wrangler-like.toml")  # was an OverflowError out of load_settings
def test_every_emulator_key_at_any_value_loads_or_names_the_file_and_key(tmp_path, key, value, name):
    path = tmp_path / name
    if name.endswith(".toml"):
        path.write_text(f"[emulator]\n{key} = {toml_value(value)}\n")
    else:
        path.write_text(json.dumps({"emulator": {key: value}}, allow_nan=True))
    loads_or_refuses(path)


@SOME
@given(
    st.text(alphabet=string.printable + "é\x00\u2028", max_size=300) | st.binary(max_size=300),
    st.sampled_from(["wrangler-like.toml", "wrangler.jsonc"]),
)
@example(b'name = "x"\n\x80', "wrangler-like.toml")  # was a UnicodeDecodeError out of load_settings
def test_any_text_or_bytes_as_config_load_or_give_a_config_error(tmp_path, text, name):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    loads_or_refuses(path)


# --- .dev.vars -------------------------------------------------------------------------------------------------


@SOME
@given(st.text(max_size=200) | st.binary(max_size=200))
@example(b"TOKEN=abc\xff\n")  # was a UnicodeDecodeError out of read_dev_vars
def test_any_dev_vars_text_reads_or_names_the_line_without_the_value(tmp_path, text):
    path = tmp_path / ".dev.vars"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        secrets = read_dev_vars(path)
    except ConfigError as e:
        assert str(e).startswith(str(path)) and "not shown" in str(e)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items())


@SOME
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
        st.text(alphabet=string.ascii_letters + string.digits + "-_.:/+=@", max_size=30),
        max_size=6,
    ),
    st.sampled_from(["{k}={v}", "export {k}={v}", '{k}="{v}"', "{k} = '{v}'  # note"]),
)
def test_dev_vars_key_value_lines_read_back_exactly(tmp_path, pairs, line):
    path = tmp_path / ".dev.vars"
    path.write_text("# secrets\n" + "\n".join(line.format(k=k, v=v) for k, v in pairs.items()) + "\n")
    assert read_dev_vars(path) == pairs


def test_the_properties_cover_every_declared_parameter():
    assert {name for name, _ in PARAMS} == {"threshold", "top_k", "function_to_apply"}
    assert all(isinstance(e, type) and issubclass(e, EmuError) for e in (BadInput, ImageError, MissingBody))
