"""The fuzz suite in CI (issue #20 item 3): each campaign of tests/fuzz/fuzzing.py for a few seconds,
in a process of its own (its 5 s alarms and 512 MB address-space bound stay out of pytest), with
no traceback and no hang. `POLICYENGINE_FUZZ_SECONDS` scales the budget (default: 40 s in all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCALE = float(os.environ.get("POLICYENGINE_FUZZ_SECONDS", "40")) / 40
BUDGETS = {"policy": 18 * SCALE, "records": 12 * SCALE, "api": 10 * SCALE}
AT_LEAST = {"policy": 20, "records": 10, "api": 100}  # inputs, on a busy two-core machine


@pytest.mark.parametrize("campaign", sorted(BUDGETS))
def test_fuzz_campaign_has_no_traceback_and_no_hang(campaign, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    result = subprocess.run([sys.executable, str(HERE / "fuzzing.py"), "--campaign", campaign, "--seconds",
                             str(BUDGETS[campaign]), "--seed", "20", "--json", "--keep", str(tmp_path)],
                            capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)
    assert result.stdout, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout.splitlines()[-1])
    failing = "\n".join(Path(p).read_text(encoding="utf-8")[:1500] for p in summary["failing_inputs"][:3]
                        if Path(p).is_file())
    assert summary["tracebacks"] == 0, failing
    assert summary["hangs"] == 0, summary["failing_inputs"]
    assert summary["inputs"] >= AT_LEAST[campaign] * min(SCALE, 1)
    assert summary["past_parsing"] > 0 and summary["evaluated"] > 0
