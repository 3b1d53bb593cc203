#!/usr/bin/env python3
"""Mutation run (the engine is policyengine.testing.mutation; `policyengine test --mutate` runs it too):

    python tools/mutate.py                      # every bundled policy that has tests
    python tools/mutate.py --policy ruian --json mutation.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from policyengine.testing.mutation import render, run, run_policy  # noqa: E402,F401  (run_policy: tests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", action="append", help="policy name or file (repeatable; default: all with tests)")
    parser.add_argument("--json", metavar="FILE", help="write the full result as JSON ('-' for stdout)")
    parser.add_argument("--limit", type=int, help="only the first N operators of each policy (smoke runs)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    print(render(run(args.policy, args.limit, args.verbose, args.json)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
