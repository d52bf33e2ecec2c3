"""Bindings (runtime/bindings/): the registry, the AI binding from both config spellings, and the bindings wrangler
declares that are not emulated yet: one warning per key at start, a clear error when touched, file:line errors."""

from __future__ import annotations

import json
import logging
import string
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_service
from worker_support import serve

from runtime.bindings import all_kinds, kind_for_key, kind_named, register, wrangler_keys
from runtime.bindings.ai import AI, AiBinding
from runtime.bindings.env import Env, make_env
from runtime.bindings.unemulated import BindingNotEmulated, NotEmulated
from runtime.config import OUR_TOP, WRANGLER_IGNORED, load_settings
from runtime.errors import ConfigError
from runtime.host import WorkerHost
from runtime.service import InferenceService
from runtime.settings import BindingConfig, EmulatorSettings, Settings

ROOT = Path(__file__).resolve().parents[1]

WRANGLER_TOML = """
name = "kv-worker"
main = "entry.py"
compatibility_flags = ["python_workers"]
ai = { binding = "AI" }

[vars]
GREETING = "hi"

[[kv_namespaces]]
binding = "CACHE"
id = "abc"

[[kv_namespaces]]
binding = "SESSIONS"
id = "def"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[queues]
producers = [{ binding = "JOBS", queue = "jobs" }]
consumers = [{ queue = "jobs" }]

[assets]
directory = "public"
"""

WRANGLER_JSONC = """
// a real wrangler.jsonc
{
  "name": "jsonc-worker",
  "main": "entry.py",
  "ai": {"binding": "BRAIN"},
  "d1_databases": [
    {"binding": "DB", "database_name": "prod", "database_id": "x"}, // the one database
  ],
  "r2_buckets": [{"binding": "FILES", "bucket_name": "files"}],
}
"""

ENTRY = "from workers import Response\n\nasync def on_fetch(request, env):\n    return Response(str(env.CACHE))\n"


def write(folder: Path, name: str, text: str) -> Path:
    (folder / "entry.py").write_text(ENTRY)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def line_of(path: Path, needle: str, nth: int = 0) -> int:
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line][nth]


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceService]:
    svc = make_service(tmp_path_factory.mktemp("state"))
    yield svc
    svc.close()


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The project logger's warnings, caught on the logger itself (`dev` turns its propagation off)."""
    logger = logging.getLogger("workers-ai-emu")
    propagate = logger.propagate
    logger.propagate = False
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="workers-ai-emu")
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.propagate = propagate


# --- the registry ------------------------------------------------------------------------------------------


def test_the_registry_lists_each_kind_once_by_type_and_by_wrangler_key() -> None:
    kinds = all_kinds()
    assert kinds[0] is AI and kind_named("ai") is AI and kind_for_key("ai") is AI
    assert len({k.type for k in kinds}) == len({k.key for k in kinds}) == len(kinds)
    for key in ("kv_namespaces", "d1_databases", "r2_buckets", "durable_objects", "assets", "services", "queues"):
        kind = kind_for_key(key)
        assert isinstance(kind, NotEmulated) and not kind.emulated and kind_named(kind.type) is kind
    for key in ("vectorize", "workflows", "hyperdrive", "analytics_engine_datasets", "browser", "images"):
        assert isinstance(kind_for_key(key), NotEmulated)
    assert kind_for_key("observability") is None and kind_for_key("vars") is None
    # every top-level key is ours, a binding's, or a wrangler key accepted and ignored: never two of these
    assert not (wrangler_keys() & WRANGLER_IGNORED) and wrangler_keys() & set(OUR_TOP) == {"ai"}


def test_a_kind_that_lands_replaces_its_not_emulated_line() -> None:
    kinds, before = all_kinds(), kind_for_key("kv_namespaces")
    assert before is not None
    replacement = NotEmulated("kv-next", "kv_namespaces", "KV namespace")
    try:
        register(replacement)
        assert kind_for_key("kv_namespaces") is replacement and "kv" not in {k.type for k in all_kinds()}
    finally:
        register(before)
    assert kind_for_key("kv_namespaces") is before and kind_named("kv") is before
    assert all_kinds() == kinds  # in its place: the order bindings are parsed and warned about


def test_the_docs_name_every_key_not_emulated_yet() -> None:
    docs = (ROOT / "docs" / "workers.md").read_text()
    section = docs[docs.index("### Bindings not emulated yet") :]
    missing = [k.key for k in all_kinds() if not k.emulated and f"`{k.key}`" not in section]
    assert missing == []


# --- the AI binding ----------------------------------------------------------------------------------------


def test_the_ai_binding_from_an_ai_table(tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler-like.toml", 'main = "entry.py"\n\n[ai]\nbinding = "BRAIN"\n')
    s = load_settings(cfg)
    assert s.bindings == [BindingConfig("ai", "ai", "BRAIN", f"{cfg.resolve()}:4")]
    assert s.ai_binding == "BRAIN"


def test_the_ai_binding_from_a_wrangler_inline_table_and_from_jsonc(tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    s = load_settings(cfg)
    assert s.bindings[0] == BindingConfig("ai", "ai", "AI", f"{cfg.resolve()}:{line_of(cfg, 'ai = {')}")
    assert s.ai_binding == "AI"
    cfg = write(tmp_path, "wrangler.jsonc", WRANGLER_JSONC)
    assert load_settings(cfg).ai_binding == "BRAIN"


def test_ai_binding_defaults_and_absence(tmp_path: Path) -> None:
    assert Settings().ai_binding == "AI"  # no config file at all: env.AI, as before
    cfg = write(tmp_path, "wrangler-like.toml", "[ai]\n")
    assert load_settings(cfg).ai_binding == "AI"  # [ai] without binding = "AI"
    cfg.write_text('name = "no-ai"\n')
    s = load_settings(cfg)
    assert s.bindings == [] and s.ai_binding is None  # no [ai]: no AI binding, as on Cloudflare


def test_env_gets_the_ai_binding_under_its_name(service: InferenceService, tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler-like.toml", 'name = "w"\n[ai]\nbinding = "BRAIN"\n[vars]\nA = "1"\n')
    env = make_env(service, load_settings(cfg))
    assert isinstance(env.BRAIN, AiBinding) and env["BRAIN"] is env.BRAIN and env.A == "1"
    assert repr(env) == "<Env A, BRAIN>"


def test_an_ai_binding_entry_error_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", 'name = "x"\nai = { binding = 3 }\n')
    assert config_error(cfg) == f"{cfg.resolve()}:2: ai.binding: must be a string, not an integer (3)"
    cfg = write(tmp_path, "wrangler.toml", 'name = "x"\nai = "AI"\n')
    assert config_error(cfg) == f"{cfg.resolve()}:2: ai: must be a table, not a string ('AI')"


# --- bindings not emulated yet -----------------------------------------------------------------------------


def test_not_emulated_bindings_are_parsed_with_their_lines(tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    where = {c.name or c.about: (c.type, c.key, c.where) for c in load_settings(cfg).bindings}
    path = cfg.resolve()
    assert where == {
        "AI": ("ai", "ai", f"{path}:{line_of(cfg, 'ai = {')}"),
        "CACHE": ("kv", "kv_namespaces", f"{path}:{line_of(cfg, 'CACHE')}"),
        "SESSIONS": ("kv", "kv_namespaces", f"{path}:{line_of(cfg, 'SESSIONS')}"),
        "COUNTER": ("durable_objects", "durable_objects", f"{path}:{line_of(cfg, 'COUNTER')}"),
        "static assets from public": ("assets", "assets", f"{path}:{line_of(cfg, '[assets]')}"),
        "JOBS": ("queues", "queues", f"{path}:{line_of(cfg, 'producers')}"),
        "a consumer of queue jobs": ("queues", "queues", f"{path}:{line_of(cfg, 'consumers')}"),
    }


def test_one_warning_per_key_at_start_naming_its_bindings(
    service: InferenceService, tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    settings = load_settings(cfg)
    settings.emulator = EmulatorSettings(state_dir=tmp_path / "state", reload=False)
    host = WorkerHost(settings, service, reload=False)
    host.load()  # a reload does not warn again
    lines = [r.getMessage() for r in warnings.records if r.name == "workers-ai-emu"]
    path = cfg.resolve()
    assert lines == [
        f"{path}:{line_of(cfg, 'CACHE')}: `kv_namespaces` declares KV namespace bindings CACHE, SESSIONS, which "
        "this emulator does not emulate yet: env.CACHE and env.SESSIONS raise an error when touched",
        f"{path}:{line_of(cfg, 'COUNTER')}: `durable_objects` declares Durable Object namespace binding COUNTER, "
        "which this emulator does not emulate yet: env.COUNTER raises an error when touched",
        f"{path}:{line_of(cfg, '[assets]')}: `assets` declares static assets from public, which this emulator does "
        "not emulate yet: ignored",
        f"{path}:{line_of(cfg, 'producers')}: `queues` declares queue producer binding JOBS and a consumer of queue "
        "jobs, which this emulator does not emulate yet: env.JOBS raises an error when touched",
    ]
    assert all(r.levelno == logging.WARNING for r in warnings.records)


def test_the_warning_from_wrangler_jsonc(
    service: InferenceService, tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    cfg = write(tmp_path, "wrangler.jsonc", WRANGLER_JSONC)
    env = make_env(service, load_settings(cfg))
    path, db = cfg.resolve(), line_of(cfg, '"DB"')
    assert [r.getMessage() for r in warnings.records] == [
        f"{path}:{db}: `d1_databases` declares D1 database binding DB, which this emulator "
        "does not emulate yet: env.DB raises an error when touched",
        f"{path}:{line_of(cfg, 'FILES')}: `r2_buckets` declares R2 bucket binding FILES, which this emulator does "
        "not emulate yet: env.FILES raises an error when touched",
    ]
    with pytest.raises(BindingNotEmulated) as info:
        env.DB.prepare("select 1")
    assert str(info.value).startswith(
        f"`DB` is a D1 database binding declared in {path}:{db} under `d1_databases` that this "
        "emulator does not emulate yet"
    )
    assert isinstance(env.BRAIN, AiBinding)


def test_touching_a_binding_not_emulated_says_what_it_is(service: InferenceService, tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    env = make_env(service, load_settings(cfg))
    where = f"{cfg.resolve()}:{line_of(cfg, 'CACHE')}"
    expected = (
        f"`CACHE` is a KV namespace binding declared in {where} under `kv_namespaces` that this emulator does not "
        "emulate yet (in a test, `patch_env(CACHE=...)` can put a stand-in there)"
    )
    for touch in (lambda: env.CACHE, lambda: env["CACHE"], lambda: env.get("CACHE")):
        with pytest.raises(BindingNotEmulated) as info:
            touch()
        assert str(info.value) == expected
        assert isinstance(info.value, AttributeError) and isinstance(info.value, KeyError)
        assert info.value.name == "CACHE"
    with pytest.raises(AttributeError, match="`COUNTER` is a Durable Object namespace binding declared in .* under "):
        _ = env.COUNTER
    assert "CACHE" in env and "JOBS" in env and "GREETING" in env
    assert repr(env) == "<Env AI, CACHE, COUNTER, GREETING, JOBS, SESSIONS>"
    env.__dict__["CACHE"] = "a stand-in"  # what patch_env does
    assert env.CACHE == env["CACHE"] == env.get("CACHE") == "a stand-in"


def test_a_worker_touching_one_gets_the_clear_error(service: InferenceService, tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    settings = load_settings(cfg)
    settings.emulator = EmulatorSettings(state_dir=tmp_path / "state", reload=False)
    with serve(service, settings) as (url, _):
        r = httpx.get(f"{url}/")
    assert r.status_code == 500
    assert "BindingNotEmulated: `CACHE` is a KV namespace binding declared in" in r.text
    assert "under `kv_namespaces` that this emulator does not emulate yet" in r.text


def test_a_name_declared_nowhere_lists_what_env_has(service: InferenceService, tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler.toml", WRANGLER_TOML)
    env = make_env(service, load_settings(cfg))
    with pytest.raises(AttributeError) as info:
        _ = env.GREETNG
    assert not isinstance(info.value, BindingNotEmulated)
    assert str(info.value) == (
        "env has no binding, var or secret named 'GREETNG' (did you mean 'GREETING'?): "
        "it has AI, CACHE, COUNTER, GREETING, JOBS, SESSIONS"
    )
    assert not hasattr(env, "NOTHING") and getattr(env, "NOTHING", 7) == 7
    with pytest.raises(KeyError):
        env["NOTHING"]
    assert env.get("NOTHING", 5) == 5 and "NOTHING" not in env
    with pytest.raises(AttributeError, match="the config declares no bindings, vars or secrets"):
        _ = Env({}).AI


@pytest.mark.parametrize(
    "body,needle,key,problem",
    [
        (
            '[[kv_namespaces]]\nbinding = "A"\nid = "1"\n\n[[kv_namespaces]]\nid = "2"\n',
            'id = "2"',
            "kv_namespaces[2]",
            "needs 'binding'",
        ),
        ('[[kv_namespaces]]\nbinding = 3\nid = "1"\n', "binding = 3", "kv_namespaces[1].binding", "must be a string"),
        ('kv_namespaces = "CACHE"\n', "kv_namespaces =", "kv_namespaces", "must be an array of tables"),
        ("r2_buckets = [1]\n", "r2_buckets", "r2_buckets[1]", "must be a table"),
        (
            '[[durable_objects.bindings]]\nclass_name = "C"\n',
            "class_name",
            "durable_objects.bindings[1]",
            "needs 'name'",
        ),
        ('[browser]\nbinding = ["B"]\n', "binding =", "browser.binding", "must be a string, not an array"),
        ("[queues]\nproducers = 1\n", "producers", "queues.producers", "must be an array of tables"),
    ],
)
def test_binding_entry_errors_name_file_line_and_key(
    tmp_path: Path, body: str, needle: str, key: str, problem: str
) -> None:
    cfg = write(tmp_path, "wrangler.toml", 'name = "x"\nworkers_dev = true\n\n' + body)
    message = config_error(cfg)
    assert message.startswith(f"{cfg.resolve()}:{line_of(cfg, needle)}: {key}: "), message
    assert problem in message


def test_binding_entry_errors_in_jsonc_have_lines_too(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "wrangler.jsonc",
        """
        {
          "name": "x",
          "kv_namespaces": [
            {"binding": "A", "id": "1"},
            {"id": "2"},
          ],
        }
        """,
    )
    assert config_error(cfg).startswith(f"{cfg.resolve()}:5: kv_namespaces[2]: needs 'binding'")
    cfg.write_text('{\n  "name": "x",\n  "services": [\n    {"binding": 1, "service": "s"}\n  ]\n}\n')
    assert config_error(cfg).startswith(f"{cfg.resolve()}:4: services[1].binding: must be a string, not an integer")


# Values under any binding key: tables with the fields bindings use, at any value, nested as wrangler nests them.
FIELD = st.sampled_from(["binding", "name", "bindings", "producers", "consumers", "queue", "directory", "id"])
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.é", max_size=6)  # any text: test_properties
SCALAR = st.none() | st.booleans() | st.integers() | TEXT | st.sampled_from(["CACHE", "my-kv", ""])
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELD, inner, max_size=3))


def toml(value: object) -> str:
    """A TOML literal (None has no TOML form: an empty inline table stands in)."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(wrangler_keys())), VALUE, st.sampled_from(["wrangler.toml", "wrangler.jsonc"]))
def test_any_value_under_a_binding_key_loads_or_names_the_file_and_key(tmp_path: Path, key, value, name) -> None:
    path = tmp_path / name
    path.write_text(f"{key} = {toml(value)}\n" if name.endswith(".toml") else json.dumps({key: value}))
    try:
        loaded = load_settings(path)
    except ConfigError as e:
        assert str(e).startswith(f"{path.resolve()}:1: {key}"), str(e)
        return
    env = make_env(None, loaded)  # type: ignore[arg-type]  # no binding here calls the service
    for config in loaded.bindings:
        assert config.key == key and config.where.startswith(str(path.resolve()))
        assert config.name is not None or config.about
        if config.name is not None and config.type != "ai":
            with pytest.raises(BindingNotEmulated, match=f"declared in {path.resolve()}"):
                env[config.name]
