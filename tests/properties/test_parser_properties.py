"""Parser and checker robustness: arbitrary text gives PolicyError diagnostics with positions, never
another exception; every generated syntactically valid expression parses; well-typed generated
expressions compile once and evaluate without a Python exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

from policyengine import PolicyError, check_file, compile_expression
from policyengine import parser
from policyengine.runtime import Absent, EvaluationError
from policyengine.testing import strategies as pst


def _positioned(diagnostics, file: str | None = None) -> None:
    assert diagnostics
    for d in diagnostics:
        assert d.code.startswith("PE") and d.span.line >= 1 and d.span.col >= 1, d
        assert d.message("en") and d.message("zh")
        if file is not None:
            assert d.span.file in (file, "<expression>") or d.span.file.endswith(Path(file).name), d


@given(st.one_of(pst.arbitrary_text(), pst.expressions()))
def test_arbitrary_text_compiles_or_gives_positioned_policy_errors(text):
    try:
        compile_expression(text, "unit", name="unit")
    except PolicyError as error:
        _positioned(error.diagnostics)


_POLICY_TEMPLATE = """format: policyengine/1
jurisdiction: {{id: fuzz, name: 测试}}
title: fuzz
source: {{file: fuzz.txt}}
effective: {{from: 2021-09-01}}
rules:
  - id: fuzz.rule
    kind: requirement
    strength: hard
    subject: community
    require: {expression}
    citation: {{file: fuzz.txt, quote: 测试}}
"""


@given(st.one_of(pst.arbitrary_text(), pst.expressions(max_leaves=10)),
       st.sampled_from(("plain", "quoted", "block")))
def test_check_file_gives_only_positioned_diagnostics(text, style):
    if style == "quoted":
        body = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    elif style == "block":
        body = "|\n      " + "\n      ".join(text.splitlines() or [""])
    else:
        body = text
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(_POLICY_TEMPLATE.format(expression=body), encoding="utf-8")
        diagnostics = check_file(path)  # never raises anything else
        if diagnostics:
            _positioned(diagnostics, str(path))


@given(pst.expressions())
def test_generated_expressions_parse(text):
    diagnostics = []
    node = parser.parse(parser.expression_scalar(text), diagnostics)
    assert node is not None or [d.code for d in diagnostics] in (["PE501"], ["PE502"]), \
        (text, [d.render("en") for d in diagnostics])


@given(pst.typed_expressions(), st.lists(pst.typed_records(), min_size=1, max_size=5))
def test_typed_expressions_compile_and_evaluate(text, records):
    function = compile_expression(text, pst.TYPED_RECORD)
    for record in records:
        try:
            assert isinstance(function(record), bool)
        except (Absent, EvaluationError):
            pass
