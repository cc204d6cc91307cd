"""`make bench`: run the benchmark groups, print one table, write it as JSON.

    python -m benchmarks                 # every group
    python -m benchmarks optimizers      # only the named groups

Figures are medians over repeated runs; ratios compare runs made side by side in this process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
from pathlib import Path

GROUPS = ["optimizers", "training", "widgets", "chapters", "book", "grading"]
RESULTS = Path(__file__).parent / "results"


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_table(rows: list[dict]) -> None:
    columns = ["group", "benchmark", "value", "unit", "target", "ok"]
    extra = sorted({key for r in rows for key in r} - set(columns))
    columns += extra
    table = [[_format(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", choices=[[], *GROUPS], default=[],
                        help="groups to run (default: all that exist)")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    for group in args.groups or GROUPS:
        try:
            module = importlib.import_module(f"benchmarks.{group}")
        except ModuleNotFoundError as error:
            if error.name != f"benchmarks.{group}":
                raise
            print(f"(no benchmark group {group!r} yet)")
            continue
        print(f"running {group} ...", flush=True)
        rows.extend(module.run())
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    meta = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version()}
    path = RESULTS / "latest.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
