"""Configuration: wrangler-like.toml, wrangler.toml, wrangler.jsonc and .dev.vars into Settings; errors name
file, key and line."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from support import DETR, FIXTURE_MODELS

from runtime.catalog import Catalog
from runtime.config import find_config, load_settings, without_comments
from runtime.errors import ConfigError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.py").write_text("x = 1\n")
    return tmp_path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_full_config(project: Path) -> None:
    cfg = write(
        project,
        "wrangler-like.toml",
        f"""
        name = "demo"
        main = "src/entry.py"
        compatibility_date = "2025-03-01"

        [ai]
        binding = "BRAIN"

        [[ai.models]]
        name = "{DETR}"
        path = "{FIXTURE_MODELS / "detr"}"

        [[ai.models]]
        name = "@cf/me/tiny"
        path = "models/tiny"
        task = "image-classification"
        price = "0.000002"
        hf_id = "me/tiny"

        [vars]
        GREETING = "hi"
        LIMITS = {{ max = 3 }}

        [emulator]
        port = 9999
        state_dir = "state"
        api_token = "tok"
        budget_usd_per_day = 0.25
        auto_pull = false
        intra_op_threads = 1
        max_queue = 4
        queue_timeout_s = 2.5
        reload = false
    """,
    )
    write(
        project,
        ".dev.vars",
        """
        # secrets for local development
        API_KEY="quoted value"
        export OTHER=plain # trailing comment
        SINGLE='a b'
    """,
    )
    s = load_settings(cfg)
    assert s.config_path == cfg.resolve()
    assert (s.name, s.compatibility_date, s.ai_binding) == ("demo", "2025-03-01", "BRAIN")
    assert s.main == (project / "src" / "entry.py").resolve()
    assert s.vars == {"GREETING": "hi", "LIMITS": {"max": 3}}
    assert s.secrets == {"API_KEY": "quoted value", "OTHER": "plain", "SINGLE": "a b"}
    assert s.models[1]["path"] == (project / "models" / "tiny").resolve()
    e = s.emulator
    assert (e.port, e.api_token, e.auto_pull, e.intra_op_threads, e.max_queue, e.queue_timeout_s, e.reload) == (
        9999,
        "tok",
        False,
        1,
        4,
        2.5,
        False,
    )
    assert e.budget_usd_per_day == Decimal("0.25") and isinstance(e.budget_usd_per_day, Decimal)
    assert s.state_dir == (project / "state").resolve()
    catalog = Catalog.load(s.models)
    assert catalog.get("@cf/me/tiny").price == Decimal("0.000002")
    assert catalog.get(DETR).path == FIXTURE_MODELS / "detr"


def test_no_main_means_apis_only(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "wrangler-like.toml", 'name = "apis"\n[ai]\nbinding = "AI"\n'))
    assert s.main is None and s.name == "apis" and s.secrets == {}


def find_line(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "body,needle,key,problem",
    [
        ('[emulator]\nport = "eighty"\n', 'port = "eighty"', "emulator.port", "must be an integer"),
        ("[emulator]\nprot = 1\n", "prot = 1", "emulator.prot", "did you mean 'port'"),
        ("[emulator]\nbudget_usd_per_day = -1\n", "budget_usd_per_day", "emulator.budget_usd_per_day", "non-negative"),
        ('[emulator]\nreload = "yes"\n', 'reload = "yes"', "emulator.reload", "must be true or false"),
        ("[emulator]\nport = 70000\n", "port = 70000", "emulator.port", "from 0 to 65535"),
        ('naem = "x"\n', 'naem = "x"', "naem", "did you mean 'name'"),
        ("name = 3\n", "name = 3", "name", "must be a string"),
        ('compatibility_date = "soon"\n', "compatibility_date", "compatibility_date", "must be a date"),
        ('main = "src/missing.py"\n', "main =", "main", "does not exist"),
        ('main = "src/index.ts"\n', "main =", "main", "not a Python module"),
        ('[ai]\nbinding = "AI"\nbinder = "x"\n', "binder", "ai.binder", "did you mean 'binding'"),
        ('[ai]\nbinding = "not valid"\n', "binding =", "ai.binding", "not a valid attribute name"),
        ("[emulatr]\nport = 1\n", "[emulatr]", "emulatr", "did you mean 'emulator'"),
        ("[vars]\nA = 1\n[emulator]\nhost = 1\n", "host = 1", "emulator.host", "must be a string"),
    ],
)
def test_errors_name_file_key_and_line(project: Path, body: str, needle: str, key: str, problem: str) -> None:
    cfg = write(project, "wrangler-like.toml", "workers_dev = true\n# a comment line\n" + body)
    message = config_error(cfg)
    assert message.startswith(f"{cfg.resolve()}:{find_line(cfg, needle)}: {key}: "), message
    assert problem in message


@pytest.mark.parametrize(
    "table,needle,key,problem",
    [
        ('name = "@cf/x/new"\npath = "m"\n', 'name = "@cf/x/new"', "ai.models[2]", "needs 'task'"),
        (
            'name = "@cf/x/new"\ntask = "image-classification"\nprice = "cheap"\n',
            'price = "cheap"',
            "ai.models[2].price",
            "not a number",
        ),
        (f'name = "{DETR}"\ncolour = "red"\n', "colour", "ai.models[2].colour", "unknown key"),
        (f'name = "{DETR}"\nbeta = "no"\n', 'beta = "no"', "ai.models[2].beta", "true or false"),
    ],
)
def test_model_errors_point_at_the_right_table(tmp_path: Path, table: str, needle: str, key: str, problem: str) -> None:
    cfg = write(
        tmp_path,
        "wrangler-like.toml",
        f'[ai]\nbinding = "AI"\n\n[[ai.models]]\nname = "{DETR}"\npath = "a"\nbeta = true\n\n[[ai.models]]\n' + table,
    )
    message = config_error(cfg)
    lines = [n for n, line in enumerate(cfg.read_text().splitlines(), 1) if needle in line]
    assert message.startswith(f"{cfg.resolve()}:{lines[-1]}: {key}"), message
    assert problem in message


def test_invalid_toml_reports_the_parser_position(tmp_path: Path) -> None:
    cfg = write(tmp_path, "wrangler-like.toml", 'name = "x"\nmain = \n')
    message = config_error(cfg)
    assert str(cfg.resolve()) in message and "line 2" in message


def test_real_wrangler_toml_loads_ignoring_keys_we_do_not_use(project: Path) -> None:
    cfg = write(
        project,
        "wrangler.toml",
        """
        name = "real-worker"
        main = "src/entry.py"
        compatibility_date = "2025-01-01"
        compatibility_flags = ["python_workers"]
        workers_dev = true
        routes = [{ pattern = "example.com/*", zone_name = "example.com" }]

        [ai]
        binding = "AI"

        [vars]
        MODE = "prod"

        [[kv_namespaces]]
        binding = "CACHE"
        id = "abc"

        [observability]
        enabled = true

        [env.staging]
        name = "real-worker-staging"
    """,
    )
    s = load_settings(cfg)
    assert (s.name, s.ai_binding, s.vars) == ("real-worker", "AI", {"MODE": "prod"})
    assert s.main == (project / "src" / "entry.py").resolve()


def test_wrangler_jsonc_with_comments_and_trailing_commas(project: Path) -> None:
    cfg = write(
        project,
        "wrangler.jsonc",
        f"""
        // wrangler.jsonc for a Python Worker
        {{
          "name": "jsonc-worker", /* block
             comment */
          "main": "src/entry.py",
          "compatibility_flags": ["python_workers"],
          "ai": {{
            "binding": "AI",
            "models": [{{"name": "{DETR}", "path": "models/detr",}},],
          }},
          "vars": {{"URL": "http://a//b"}},
        }}
    """,
    )
    s = load_settings(cfg)
    assert s.name == "jsonc-worker" and s.vars == {"URL": "http://a//b"}  # "//" inside a string is kept
    assert s.models == [{"name": DETR, "path": (project / "models" / "detr").resolve()}]


def test_jsonc_errors_have_lines_too(project: Path) -> None:
    cfg = write(
        project,
        "wrangler.jsonc",
        """
        {
          "name": "x",
          "ai": {"binding": "AI", "models": [
            {"name": "@cf/facebook/detr-resnet-50", "path": "a"},
            {"name": "@cf/facebook/detr-resnet-50", "colour": 1},
          ]},
          "emulator": {"port": "x"},
        }
    """,
    )
    message = config_error(cfg)
    assert message.startswith(f"{cfg.resolve()}:5: ai.models[2].colour"), message
    cfg.write_text(cfg.read_text().replace(', "colour": 1', ""))
    assert config_error(cfg).startswith(f"{cfg.resolve()}:7: emulator.port: must be an integer")
    cfg.write_text('{\n  "name": "x",\n  "main": \n}\n')
    assert re.match(rf"{re.escape(str(cfg.resolve()))}:4: invalid JSON", config_error(cfg))


def test_dev_vars_errors_never_show_the_value(tmp_path: Path) -> None:
    write(tmp_path, ".dev.vars", "GOOD=1\nthis line has no equals sign SECRET123\n")
    cfg = write(tmp_path, "wrangler-like.toml", 'name = "x"\n')
    message = config_error(cfg)
    assert message.startswith(f"{tmp_path / '.dev.vars'}:2:")
    assert "SECRET123" not in message


def test_find_config_walks_up_and_prefers_wrangler_like(tmp_path: Path) -> None:
    write(tmp_path, "wrangler.toml", 'name = "plain"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / "wrangler.toml"
    write(tmp_path, "wrangler-like.toml", 'name = "ours"\n')
    assert find_config(deep) == tmp_path / "wrangler-like.toml"


def test_comment_stripping_for_line_finding_keeps_strings_and_line_numbers() -> None:
    text = '{\n "a": "x // y", // c\n /* 1\n 2 */ "b": [1,],\n}'
    plain = without_comments(text)
    assert plain.count("\n") == text.count("\n") and "x // y" in plain and "/*" not in plain
    import json5

    assert json5.loads(plain) == json5.loads(text) == {"a": "x // y", "b": [1]}


def test_repo_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    s = load_settings(root / "wrangler-like.toml")
    assert s.main == root / "worker" / "entry.py"
    assert s.ai_binding == "AI" and s.emulator.host == "127.0.0.1" and s.emulator.port == 8787


def test_the_docs_table_of_emulator_keys_is_generated_from_their_declarations() -> None:
    """docs/workers.md shows exactly what runtime/settings.py declares (regenerate with settings.docs_table())."""
    from runtime.settings import EMULATOR_FIELDS, docs_table

    docs = (Path(__file__).resolve().parents[1] / "docs" / "workers.md").read_text()
    assert docs_table() in docs
    assert all(f"| `{name}` |" in docs for name in EMULATOR_FIELDS)
