"""Summarise a finished `mutmut run` per module (make mutate prints this; docs/testing.md keeps the figures).

.venv/bin/python tests/mutation_report.py            # the table
.venv/bin/python tests/mutation_report.py --survivors # and every surviving mutant's diff
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

MUTMUT = str(Path(sys.executable).with_name("mutmut"))


def results() -> list[tuple[str, str]]:
    out = subprocess.run([MUTMUT, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            rows.append((name, status.strip()))
    return rows


def module_of(name: str) -> str:
    dotted = name.split(".x")[0] if ".x" in name else name
    return dotted.rsplit(".", 1)[0] if "ǁ" in dotted else dotted


def main() -> None:
    rows = results()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in rows:
        per[name.split(".x")[0]][status] += 1
    print("| module | mutants | killed | survived | no tests | timeout | killed % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    total: Counter[str] = Counter()
    for module in sorted(per):
        c = per[module]
        total.update(c)
        n = sum(c.values())
        print(
            f"| `{module}` | {n} | {c['killed']} | {c['survived']} | {c['no tests']} | {c['timeout']} |"
            f" {100 * c['killed'] / n:.1f} |"
        )
    n = sum(total.values())
    print(
        f"| all | {n} | {total['killed']} | {total['survived']} | {total['no tests']} | {total['timeout']} |"
        f" {100 * total['killed'] / n:.1f} |"
    )
    if "--survivors" in sys.argv:
        for name, status in rows:
            if status == "survived":
                print(subprocess.run([MUTMUT, "show", name], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
