"""What one answered request costs at list price: the model's `price` per request, or per audio minute.

Speech is billed by the audio's duration as decoded: its 16 kHz samples counted in whole milliseconds, rounded up
(runtime/speech/family.py), times the price per minute, rounded half-up to a pico-dollar (1e-12 USD, the ledger's
exact unit): cost = round(price × milliseconds / 60,000, 12). Every step is a Decimal; nothing passes through a
float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..catalog import ModelEntry

PICO = Decimal("1e-12")
MS_PER_MINUTE = 60_000


def cost_of(entry: ModelEntry, audio_ms: int | None = None) -> Decimal:
    if entry.unit == "audio-minute":
        if not audio_ms:
            return Decimal(0)
        return (entry.price * audio_ms / MS_PER_MINUTE).quantize(PICO, rounding=ROUND_HALF_UP)
    return entry.price
