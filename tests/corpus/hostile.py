"""Helpers of the hostile-input corpus (issue #20): write an input, run it, and name the expected
position from the input's own text (the line and column where a needle is written)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from policyengine import engine

HEADER = """\
format: policyengine/1
jurisdiction: {id: t, name: 测试市}
title: 测试政策
source: {file: t.txt}
"""

RECORDS = Path(__file__).parent.parent / "data" / "evaluation" / "records.yaml"  # three communities
AS_OF = dt.date(2022, 3, 1)


def position(text: str, needle: str, occurrence: int = 1) -> str:
    """`line:col` (1-based, code points) of the `occurrence`-th `needle` in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{col}"


def derived(rule_id: str, value: str, extra: str = "") -> str:
    """A `derived` rule over communities whose value is `value`, written in double quotes."""
    return (f"  - id: {rule_id}\n    kind: derived\n    subject: community\n    value: \"{value}\"\n"
            f"    citation: {{file: t.txt, quote: 引文}}\n{extra}")


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def located(path: Path) -> list[str]:
    """The file's diagnostics as `line:col CODE`."""
    return [f"{d.span.line}:{d.span.col} {d.code}" for d in engine.check_file(path)]
