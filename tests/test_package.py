"""The installed package: version, exports, typing marker, licence, float inputs of compile_expression,
the pytest plugin's configurable collection paths, and what the wheel ships for `policyengine test`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

import policyengine
from policyengine import cli, resources

ROOT = Path(__file__).resolve().parent.parent


def test_version_has_one_source_of_truth(capsys):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/policyengine/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", policyengine.__version__)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"policyengine {policyengine.__version__}"


def test_typed_licensed_and_classified():
    assert (Path(policyengine.__file__).parent / "py.typed").is_file()
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "the policyengine authors" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]
    assert "Typing :: Typed" in project["classifiers"]
    assert "urls" not in project  # no invented project URLs


def test_evaluation_error_is_exported():
    from policyengine.runtime import EvaluationError

    assert policyengine.EvaluationError is EvaluationError and "EvaluationError" in policyengine.__all__


def test_compile_expression_converts_floats_exactly_from_their_shortest_repr():
    difference = policyengine.compile_expression("record.a - record.b", {"a": "number", "b": "number"})
    # as floats, 0.1 - 0.3 is -0.19999999999999998; read as the decimals written, it is -0.2
    assert difference({"a": 0.1, "b": 0.3}) == Decimal("-0.2")
    total = policyengine.compile_expression("sum(record.xs)", {"xs": "list<number>"})
    assert total({"xs": [0.1, 0.2]}) == Decimal("0.3")
    money = policyengine.compile_expression("record.m * 3", {"m": "money"})
    assert money({"m": 33333.33}) == Decimal("99999.99")
    assert difference({"a": Decimal("1"), "b": 2}) == Decimal("-1")  # no floats: unchanged path


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_compile_expression_refuses_non_finite_floats(bad):
    double = policyengine.compile_expression("record.a * 2", {"a": "number"})
    with pytest.raises(ValueError, match="'a' is .*not a finite number"):
        double({"a": bad})


def test_wheel_ships_the_example_records_the_bundled_tests_read():
    """The bundled cases read ../../../examples/*.yaml from policies/tests/<city>/: in the wheel that is
    policyengine/examples, so pyproject.toml force-includes examples/ there."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["examples"] == "policyengine/examples" and included["policies"] == "policyengine/policies"
    referenced = set()
    for case_file in (resources.policies_dir() / "tests").rglob("*.yaml"):
        referenced |= set(re.findall(r"\.\./\.\./\.\./(examples/[\w.-]+\.ya?ml)", case_file.read_text(encoding="utf-8")))
    assert referenced and all((ROOT / path).is_file() for path in referenced)


CASE_FILE = """\
policy: {policy}
cases:
  - name: one unit is within the limit
    as_of: 2022-09-01
    records:
      units: [{{unit_id: u1, name: 一小, stage: primary}}]
      communities: [{{community_id: c1, name: 甲, model_type: fusion, tier: intra_county, units: [{{unit_id: u1, role: lead}}]}}]
    expected:
      - {{rule: liuzhou.formation.max_units_6, subject: c1, outcome: pass}}
"""


def _run_pytest(folder: Path, ini: str) -> subprocess.CompletedProcess:
    (folder / "pytest.ini").write_text(ini, encoding="utf-8")
    # the package under test first on the path (the plugin is loaded through its pytest11 entry point)
    env = {**os.environ, "PYTHONPATH": str(Path(policyengine.__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def test_pytest_plugin_collection_paths_come_from_an_ini_option(tmp_path):
    cases = tmp_path / "city_cases"
    cases.mkdir()
    (cases / "formation.yaml").write_text(CASE_FILE.format(policy="liuzhou"), encoding="utf-8")
    (tmp_path / "other.yaml").write_text("not: a case file\n", encoding="utf-8")
    configured = _run_pytest(tmp_path, "[pytest]\npolicyengine_case_paths = city_cases\n")
    assert "1 test collected" in configured.stdout, configured.stdout + configured.stderr
    default = _run_pytest(tmp_path, "[pytest]\n")  # not under policies/tests: nothing collected
    assert "no tests collected" in default.stdout, default.stdout + default.stderr
