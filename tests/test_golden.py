"""Reports are identical to the golden reports (tests/golden/, first written by the commit before
issue 19): every bundled policy on its example records and on a seeded province. The comparison is
on the public `Finding` attributes, so the report format may change while what it says may not.
A policy change meant to change findings regenerates them: `python benchmarks/golden.py --update`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("golden", ROOT / "benchmarks" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
CASES = list(golden.cases())


@pytest.mark.parametrize("file,policy,source", CASES, ids=[c[0] for c in CASES])
def test_report_equals_its_golden(file, policy, source):
    expected = (golden.GOLDEN / file).read_text(encoding="utf-8").splitlines()
    lines = golden.current(policy, source)
    assert len(lines) == len(expected), "regenerate with `python benchmarks/golden.py --update` if intended"
    for got, want in zip(lines, expected):
        assert got == want
