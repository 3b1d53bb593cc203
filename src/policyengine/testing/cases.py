"""Policy test files: YAML cases → evaluation → expected-vs-actual comparison and rule coverage.

A case names a policy, records, an as_of date and the findings it expects (only those are compared).
`policyengine test` and the pytest plugin both run cases through `run_case`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import attrs
import yaml

from policyengine import resources
from policyengine.diagnostics import PolicyError
from policyengine.engine import Policy, load_policy
from policyengine.records import RecordErrors, RecordSet
from policyengine.report import Finding, Report, plain

CASE_KEYS = ("name", "as_of", "records", "parameters", "expected", "source", "reading", "description")
EXPECTED_KEYS = ("rule", "subject", "outcome", "amount", "period", "community", "values")


_CASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: test files are large


class CaseFileError(Exception):
    """A test file is malformed (names the file and the case)."""


@attrs.frozen
class Case:
    file: str
    name: str
    policy: str
    as_of: dt.date
    records: tuple
    parameters: tuple[tuple[str, Any], ...]
    expected: tuple[dict, ...]
    source: str | None
    reading: str | None


@attrs.frozen
class CaseResult:
    case: Case
    mismatches: tuple[str, ...]
    report: Report | None
    asserted: tuple[Finding, ...]  # the findings an expectation matched and confirmed
    policy: Policy | None = None  # the compiled policy the case ran on (coverage reads its rule kinds)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _bounded_yaml(path: Path, text: str) -> Any:
    """A test file's document; aliases are allowed, within the bounds of record files (depth,
    recursion, expansion: recordio.RecordLimits), checked on the composed nodes before constructing."""
    from policyengine.recordio import RecordLimits, _check_nodes

    limits = RecordLimits()
    if len(text) > limits.max_file_bytes:
        raise CaseFileError(f"{path}: larger than {limits.max_file_bytes} bytes (RE112)")
    loader = _CASE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = _check_nodes(node, path, limits)
        if problems:
            raise CaseFileError(f"{problems[0].code} {problems[0].en}")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_case_file(path: str | Path, policy_override: str | Path | None = None) -> list[Case]:
    """The cases of one test file. `policy_override` points every case at another policy file (the
    mutation run evaluates a file's cases against a mutated copy of its policy)."""
    path = Path(path)
    try:
        data = _bounded_yaml(path, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CaseFileError(f"{path}: {error}") from None
    if not isinstance(data, dict) or "cases" not in data or "policy" not in data:
        raise CaseFileError(f"{path}: a test file needs `policy:` and `cases:`")
    unknown = set(data) - {"policy", "cases", "description"}
    if unknown:
        raise CaseFileError(f"{path}: unknown key(s) {sorted(unknown)}")
    policy = str(data["policy"])
    if policy_override is not None:
        policy = str(Path(policy_override).resolve())
    elif resources.bundled_policy(policy) is None:
        policy = str((path.parent / policy).resolve())
        if not Path(policy).is_file():
            raise CaseFileError(f"{path}: policy: no policy file {data['policy']} (and no bundled policy of that name)")
    if not isinstance(data["cases"] or [], list):
        raise CaseFileError(f"{path}: `cases:` must be a list of cases")
    return [_case(path, policy, i, raw) for i, raw in enumerate(data["cases"] or [])]


def _case(path: Path, policy: str, index: int, raw: Any) -> Case:
    where = f"{path}: case #{index + 1}"
    if not isinstance(raw, dict):
        raise CaseFileError(f"{where}: a case must be a mapping")
    unknown = set(raw) - set(CASE_KEYS)
    if unknown:
        raise CaseFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in ("name", "as_of", "records", "expected"):
        if key not in raw:
            raise CaseFileError(f"{where}: missing `{key}`")
    try:
        as_of = raw["as_of"] if isinstance(raw["as_of"], dt.date) else dt.date.fromisoformat(str(raw["as_of"]))
    except ValueError:
        raise CaseFileError(f"{where}: as_of must be a date (YYYY-MM-DD), not {raw['as_of']!r}") from None
    if not isinstance(raw.get("parameters") or {}, dict):
        raise CaseFileError(f"{where}: parameters must be a mapping of name → value")
    records = raw["records"] if isinstance(raw["records"], list) else [raw["records"]]
    records = tuple((path.parent / r).resolve() if isinstance(r, str) else r for r in records)
    expected = tuple(raw["expected"] or ())
    for item in expected:
        if not isinstance(item, dict) or not {"rule", "subject", "outcome"} <= set(item) or set(item) - set(EXPECTED_KEYS):
            raise CaseFileError(f"{where} ({raw['name']}): each expected finding needs rule, subject, outcome "
                                f"and may have {', '.join(EXPECTED_KEYS[3:])}: {item}")
    parameters = tuple(sorted((raw.get("parameters") or {}).items()))
    return Case(str(path), str(raw["name"]), policy, as_of, records, parameters, expected,
                raw.get("source"), raw.get("reading"))


def run_case(case: Case, policy: Policy | None = None, records: RecordSet | None = None) -> CaseResult:
    """Evaluate one case. `policy`/`records`: already loaded ones to use (a run over many cases
    compiles each policy once per parameter set and loads each record file set once)."""
    try:
        policy = policy or load_policy(case.policy, parameters=dict(case.parameters))
        records = records or policy.load_records(list(case.records))
    except PolicyError as error:
        return CaseResult(case, (f"policy error:\n{error.render('en')}",), None, ())
    except RecordErrors as error:
        return CaseResult(case, (f"record error:\n{error.message('en')}",), None, ())
    report = policy.evaluate(records, case.as_of)
    mismatches, asserted = [], []
    for expected in case.expected:
        problem, finding = compare(expected, report)
        if problem:
            mismatches.append(problem)
        elif finding is not None:
            asserted.append(finding)
    return CaseResult(case, tuple(mismatches), report, tuple(asserted), policy)


class CaseRunner:
    """Runs many cases, compiling each (policy, parameter set) once and loading each set of record
    files once. Parameter values may be lists or mappings (unhashable), so the key is a frozen copy."""

    def __init__(self) -> None:
        self._policies: dict[tuple, Policy | PolicyError] = {}
        self._records: dict[tuple, RecordSet | RecordErrors] = {}

    def run(self, case: Case) -> CaseResult:
        policy = self._cached(self._policies, (case.policy, _frozen(case.parameters)),
                              lambda: load_policy(case.policy, parameters=dict(case.parameters)), PolicyError)
        if isinstance(policy, PolicyError):
            return CaseResult(case, (f"policy error:\n{policy.render('en')}",), None, ())
        records = None
        if all(isinstance(r, Path) for r in case.records):  # inline records are cheap and unique per case
            # keyed by the record schema too: a policy with a schema extension loads the same files differently
            records = self._cached(self._records, (id(policy.record_schema), case.records),
                                   lambda: policy.load_records(list(case.records)), RecordErrors)
            if isinstance(records, RecordErrors):
                return CaseResult(case, (f"record error:\n{records.message('en')}",), None, ())
        return run_case(case, policy, records)

    @staticmethod
    def _cached(cache: dict, key: tuple, load, error_type):
        if key not in cache:
            try:
                cache[key] = load()
            except error_type as error:
                cache[key] = error
        return cache[key]


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def compare(expected: dict, report: Report) -> tuple[str | None, Finding | None]:
    """A readable difference between one expected finding and the report, or None."""
    candidates = [f for f in report.findings if f.rule == expected["rule"] and f.subject == str(expected["subject"])
                  and ("period" not in expected or f.period == str(expected["period"]))
                  and ("community" not in expected or f.community == expected["community"])]
    head = f"{expected['rule']} / {expected['subject']}" + (f" / {expected['period']}" if "period" in expected else "")
    if not candidates:
        rules = {f.rule for f in report.findings}
        why = "no such rule in the policy" if expected["rule"] not in rules else "no finding for this subject/period"
        return f"{head}: expected {expected['outcome']}, but {why}", None
    if len(candidates) > 1:
        periods = ", ".join(str(f.period) for f in candidates)
        return f"{head}: {len(candidates)} findings (periods {periods}); name the `period` to compare", None
    actual = candidates[0]
    lines = []
    if actual.outcome != expected["outcome"]:
        lines.append(f"outcome  expected {expected['outcome']!s:<14} actual {actual.outcome}")
    if "amount" in expected and not _same_amount(expected["amount"], actual.amount):
        lines.append(f"amount   expected {expected['amount']!s:<14} actual {actual.amount}")
    for key, value in (expected.get("values") or {}).items():
        got = actual.values_dict.get(key, "<missing>")
        if not _same_value(value, got):
            lines.append(f"values.{key} expected {value!s:<10} actual {got}")
    if not lines:
        return None, actual
    context = json.dumps({k: v for k, v in actual.to_json()["values"].items()}, ensure_ascii=False)
    return f"{head}:\n    " + "\n    ".join(lines) + f"\n    values: {context}", None


def _same_value(expected: Any, actual: Any) -> bool:
    """Reported lists of scalars are sets in effect (the evaluator sorts them): compare as such."""
    if isinstance(expected, list) and isinstance(actual, tuple):
        return sorted(map(str, (plain(v) for v in expected))) == sorted(map(str, actual))
    return plain(expected) == actual or str(expected) == str(actual)


def _same_amount(expected: Any, actual: Decimal | None) -> bool:
    if actual is None:
        return expected is None
    try:
        return Decimal(str(expected)) == actual
    except InvalidOperation:
        return False


def default_paths() -> list[Path]:
    return [resources.policies_dir() / "tests"]


HINTS_FILE = "scenarios.yaml"  # a policy's scenario hints and rule reach (testing/reach.py), not cases


def case_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.rglob("*.yaml") if p.name != HINTS_FILE) if path.is_dir() else [path])
    return files


def run_paths(paths: list[str], coverage: bool = False, output_format: str = "text", lang: str = "en",
              parameters: dict[str, Any] | None = None) -> int:
    """Run test files and print the results (in `lang`). `parameters` (the CLI's --param) override the
    cases' own values in every case whose policy declares them; KeyError names one no policy declares."""
    from policyengine.testing.coverage import coverage_report, render_coverage

    files = case_files(paths or default_paths())
    runner = CaseRunner()
    cases: list[Case] = []
    for file in files:
        try:
            cases.extend(load_case_file(file))
        except CaseFileError as error:
            print(f"{'错误' if lang == 'zh' else 'ERROR'} {error}", file=sys.stderr)
            return 2
    results = [runner.run(case) for case in _with_parameters(cases, parameters or {})]
    failed = [r for r in results if not r.passed]
    summary = coverage_report(results) if coverage else None
    if output_format == "json":
        print(json.dumps({"passed": len(results) - len(failed), "failed": len(failed),
                          "failures": [{"file": r.case.file, "case": r.case.name, "diff": list(r.mismatches)}
                                       for r in failed], "coverage": summary}, ensure_ascii=False, indent=2))
    else:
        for result in failed:
            print(f"{'失败' if lang == 'zh' else 'FAIL'} {result.case.file} :: {result.case.name}")
            for mismatch in result.mismatches:
                print("  " + mismatch.replace("\n", "\n  "))
        if summary is not None:
            print(render_coverage(summary, lang))
        passed = len(results) - len(failed)
        print(f"通过 {passed}，失败 {len(failed)}" if lang == "zh" else f"{passed} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


def _with_parameters(cases: list[Case], parameters: dict[str, Any]) -> list[Case]:
    if not parameters:
        return cases
    declared = {case.policy: set(load_policy(case.policy).parameters) for case in cases}
    for name in parameters:
        if not any(name in names for names in declared.values()):
            raise KeyError(name)
    return [attrs.evolve(case, parameters=tuple(sorted({**dict(case.parameters), **{
        k: v for k, v in parameters.items() if k in declared[case.policy]}}.items()))) for case in cases]


def policy_of(result: CaseResult) -> Policy | None:
    if result.policy is not None:
        return result.policy
    try:
        return load_policy(result.case.policy, parameters=dict(result.case.parameters))
    except PolicyError:
        return None
