"""Print every module of ``src/otelml`` with its line count, largest first (limit: 400).

python scripts/module_sizes.py [--top N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

LIMIT = 400


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="how many modules to list")
    args = parser.parse_args()
    src = Path(__file__).resolve().parents[1] / "src"
    sizes = sorted(
        ((len(p.read_text("utf-8").splitlines()), p.relative_to(src)) for p in src.rglob("*.py")),
        reverse=True,
    )
    for n, path in sizes[: args.top]:
        print(f"{n:5d}  {path}{'  (over the limit)' if n > LIMIT else ''}")
    over = sum(n > LIMIT for n, _ in sizes)
    print(f"{len(sizes)} modules, {sum(n for n, _ in sizes)} lines, {over} over {LIMIT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
