"""Metering test helpers, and a server to kill: `python tests/metering_server.py PORT STATE_DIR [LEDGER [INSTANCE]]`.

The server is the real app (create_app over InferenceService and its ledger) on real uvicorn, run in its own
process so a test can SIGKILL it mid-load and restart it on the same ledger.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from support import DETR, RESNET

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "fixtures" / "models"
IMAGES = ROOT / "tests" / "fixtures" / "images"

PRICED = "@cf/test/priced-classifier"  # the tiny ResNet at DETR's price: a cheap model with a 7.5e-6 price
PRICES = {DETR: Decimal("0.0000075"), RESNET: Decimal("0.00000251"), PRICED: Decimal("0.0000075")}
TINY = (IMAGES / "tiny-5x3.png").read_bytes()


def model_tables() -> list[dict]:
    """[[ai.models]] tables: the fixture models under their catalog names, plus one model priced in config."""
    return [
        {"name": DETR, "path": str(MODELS / "detr")},
        {"name": RESNET, "path": str(MODELS / "resnet")},
        {
            "name": PRICED,
            "task": "image-classification",
            "path": str(MODELS / "resnet"),
            "price": "0.0000075",
            "hf_id": "test/priced-classifier",
        },
    ]


def metering_service(state_dir: Path, ledger: str | None = None, **emulator):
    """The service over the test catalog; its ledger in state_dir, or at `ledger` (a path or PostgreSQL URL)."""
    from runtime.catalog import Catalog
    from runtime.metering.backends import open_ledger
    from runtime.service import InferenceService
    from runtime.settings import EmulatorSettings

    settings = EmulatorSettings(state_dir=state_dir, **emulator)
    return InferenceService(Catalog.load(model_tables()), open_ledger(ledger or state_dir / "ledger.sqlite3"), settings)


def make_app(service):
    from runtime.http.app import create_app
    from runtime.http.context import AppContext
    from runtime.settings import Settings

    return create_app(AppContext(settings=Settings(emulator=service.settings), service=service))


def main(port: int, state_dir: Path, ledger: str | None = None, instance: str | None = None) -> None:
    import uvicorn

    service = metering_service(state_dir, ledger, intra_op_threads=1, instance=instance)
    uvicorn.run(make_app(service), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(int(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:5])
