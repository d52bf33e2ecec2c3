"""Cloudflare's failures on demand: injected errors and latency, decided once, in the service's call path.

A Worker on Cloudflare meets 3040 (out of capacity), 3036 (daily free allocation used up), 3007 (timeout),
3008 (aborted), 5006 (bad input) and 5007 (no such model). Here they come when asked for:
- one-shot rules from the pytest plugin (`ai.fail_next(3040, times=2)`, `ai.delay(1.5)`);
- rate rules from the config (`[[emulator.faults]]` model, code, rate, seed) or `POST /cdn-cgi/emu/faults`,
  seeded so a load test repeats.
Every door renders the error in its own format (the binding's InferenceUpstreamError "3040: ...", Cloudflare's
envelope, Hugging Face's {"error"}); the service meters each as a failure, at $0, as Cloudflare bills failures.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    ABORTED_TEXT,
    CAPACITY_TEXT,
    DAILY_ALLOCATION_TEXT,
    TIMEOUT_TEXT,
    BadInput,
    BudgetExceeded,
    EmuError,
    InferenceTimeout,
    NoSuchModel,
    OutOfCapacity,
    RequestAborted,
)

# code -> how the injected error is made (from the model's name), with Cloudflare's texts
ERRORS: dict[int, Callable[[str], EmuError]] = {
    3040: lambda model: OutOfCapacity(CAPACITY_TEXT),
    3036: lambda model: BudgetExceeded(DAILY_ALLOCATION_TEXT),
    3007: lambda model: InferenceTimeout(TIMEOUT_TEXT),
    3008: lambda model: RequestAborted(ABORTED_TEXT),
    5006: lambda model: BadInput("the input does not match the model's schema (injected fault)"),
    5007: lambda model: NoSuchModel(f"No such model {model} or task"),
}
CODES = tuple(ERRORS)


class FaultSpecError(ValueError):
    """A fault rule that cannot be used; the message says which field and why."""


@dataclass
class Rule:
    """Fail with `code` and/or wait `delay_s`, for inferences of `model` (None: any), `times` times (None:
    unlimited) with probability `rate` (drawn from a generator seeded with `seed`)."""

    code: int | None = None
    delay_s: float = 0.0
    model: str | None = None
    times: int | None = 1
    rate: float = 1.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.code is not None and self.code not in ERRORS:
            raise FaultSpecError(f"code {self.code!r} is not one of {', '.join(map(str, CODES))}")
        if (
            isinstance(self.delay_s, bool)
            or not isinstance(self.delay_s, (int, float))
            or not 0 <= self.delay_s <= 3600
        ):
            raise FaultSpecError(f"delay_s must be a number of seconds from 0 to 3600, not {self.delay_s!r}")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise FaultSpecError(f"times must be a whole number of at least 1, not {self.times!r}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 <= self.rate <= 1:
            raise FaultSpecError(f"rate must be a fraction from 0 to 1, not {self.rate!r}")
        if self.model is not None and not isinstance(self.model, str):
            raise FaultSpecError(f"model must be a model name, not {self.model!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise FaultSpecError(f"seed must be an integer, not {self.seed!r}")
        self._rng = random.Random(self.seed)

    @classmethod
    def from_table(cls, table: Any) -> Rule:
        """A rule from a config table or JSON object: {code, model?, rate?, seed?, times?, delay_s?}."""
        if not isinstance(table, Mapping):
            raise FaultSpecError(f"each fault must be a table like {{code = 3040, rate = 0.1}}, not {table!r}")
        known = {"code", "model", "rate", "seed", "times", "delay_s"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise FaultSpecError(f"unknown fault key {unknown[0]!r} (expected {', '.join(sorted(known))})")
        if "code" not in table and "delay_s" not in table:
            raise FaultSpecError("a fault needs a 'code' (one of " + ", ".join(map(str, CODES)) + ") or a 'delay_s'")
        # configured rules are rate rules: unlimited unless `times` is given
        return cls(
            code=table.get("code"),
            delay_s=table.get("delay_s", 0.0),
            model=table.get("model"),
            times=table.get("times"),
            rate=table.get("rate", 1.0),
            seed=table.get("seed"),
        )

    def matches(self, names: tuple[str, ...]) -> bool:
        return self.model is None or self.model in names

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "delay_s": self.delay_s,
            "model": self.model,
            "times": self.times,
            "rate": self.rate,
            "seed": self.seed,
        }


class Faults:
    """The rules in force; `take` is called once per inference by `InferenceService.run`."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = list(rules or [])

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def replace(self, rules: list[Rule]) -> None:
        with self._lock:
            self._rules = list(rules)

    def clear(self) -> None:
        self.replace([])

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def take(self, *names: str) -> tuple[float, EmuError | None]:
        """For one inference of the model known by `names`: the delay to add and the error to raise (if any).

        Each matching rule draws once (its rate) and, when it fires, uses up one of its `times`. Delays add
        up; the first firing error wins.
        """
        delay = 0.0
        error: EmuError | None = None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(names) or (error is not None and rule.code is not None):
                    continue
                if rule.rate < 1 and rule._rng.random() >= rule.rate:
                    continue
                delay += rule.delay_s
                if rule.code is not None:
                    error = ERRORS[rule.code](names[0])
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
        return delay, error
