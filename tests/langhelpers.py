"""Helpers for the language-core tests: write a policy file, check it, render diagnostics.

Import `check_text` into a test module to use it as a fixture."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policyengine import engine

DATA = Path(__file__).parent / "data"

HEADER = """\
format: policyengine/1
jurisdiction: {id: t, name: 测试市}
title: 测试政策
source: {file: t.txt}
"""


def requirement(body: str, rule_id: str = "t.r", extra: str = "") -> str:
    """One requirement rule whose `require:` is `body` exactly as written after `require:`.

    The rule starts at line 1 of the returned text; `require:` is on line 5, at column 5."""
    return (f"  - id: {rule_id}\n"
            f"    kind: requirement\n"
            f"    strength: hard\n"
            f"    subject: community\n"
            f"    require: {body}\n"
            f"    citation: {{file: t.txt, quote: 引文}}\n" + extra)


@pytest.fixture
def check_text(tmp_path):
    """Write `text` as a policy file and return its diagnostics as `line:col: CODE` strings."""

    def run(text: str, name: str = "p.yaml") -> list[str]:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text, encoding="utf-8")
        return [f"{d.span.line}:{d.span.col}: {d.code}" for d in engine.check_file(path)]

    return run
