"""Record loading speed (issue 15.4): a seeded 10k-community JSON province (benchmarks/province.py)
loaded into validated, linked records by `load_records` (duplicate-key detection, exact numbers and
limits on), side by side in one run with `json.load(parse_float=Decimal)` of the same file, and the
same province as YAML through libyaml. Best of `repeat` wall-clock runs each; the target is a ratio
of at most 2.

    python benchmarks/loading.py --communities 10000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import province  # noqa: E402

import policyengine  # noqa: E402

TARGET_RATIO = 2.0


def _best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def run_loading(communities: int = 10_000, repeat: int = 3, log=print) -> dict:
    data = province.generate(communities)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "province.json"
        path.write_text(province.to_json(data), encoding="utf-8")
        size = path.stat().st_size

        def baseline() -> None:
            with open(path, encoding="utf-8") as handle:
                json.load(handle, parse_float=Decimal)

        json_load = _best(baseline, repeat)
        records = _best(lambda: policyengine.load_records(path), repeat)
    result = {"communities": communities, "file_mib": size / 2**20, "json_load_s": json_load,
              "load_records_s": records, "ratio": records / json_load, "target_ratio": TARGET_RATIO,
              "met": records / json_load <= TARGET_RATIO}
    log(f"  {communities} communities, {result['file_mib']:.1f} MiB JSON: json.load(parse_float=Decimal) "
        f"{json_load:.2f} s, load_records {records:.2f} s → {result['ratio']:.2f}× "
        f"({'met' if result['met'] else 'MISS'}: target ≤ {TARGET_RATIO}×)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run_loading(args.communities, args.repeat), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
