"""Pytest plugin: every case of a policy test file (`policies/tests/**/*.yaml`) is a test item.

Registered through the `pytest11` entry point, like OpenFisca's YAML tests: `pytest` collects the
cases next to the Python tests and prints the expected-vs-actual diff of a failing case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.testing.cases import HINTS_FILE, Case, CaseFileError, CaseRunner, load_case_file

_RUNNER = CaseRunner()  # one per session: each policy compiled once per parameter set


CASE_PATHS_INI = "policyengine_case_paths"


def pytest_addoption(parser):
    parser.addini(CASE_PATHS_INI, type="paths", default=[],
                  help="folders whose *.yaml files are policy test files (default: any policies/tests folder)")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".yaml" or file_path.name == HINTS_FILE:  # scenario hints, not cases
        return None
    folders = parent.config.getini(CASE_PATHS_INI)
    if folders:
        wanted = any(file_path.resolve().is_relative_to(Path(folder).resolve()) for folder in folders)
    else:
        wanted = "tests" in file_path.parts and _under_policies(file_path)
    return PolicyCaseFile.from_parent(parent, path=file_path) if wanted else None


def _under_policies(path: Path) -> bool:
    parts = path.parts
    return any(parts[i] == "policies" and parts[i + 1] == "tests" for i in range(len(parts) - 1))


class PolicyCaseFile(pytest.File):
    def collect(self):
        try:
            cases = load_case_file(self.path)
        except CaseFileError as error:
            raise self.CollectError(str(error)) from None
        for case in cases:
            yield PolicyCaseItem.from_parent(self, name=case.name, case=case)


class PolicyCaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        result = _RUNNER.run(self.case)
        if not result.passed:
            raise PolicyCaseFailure(result.mismatches)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, PolicyCaseFailure):
            lines = [f"{self.case.file} :: {self.case.name}"]
            if self.case.source:
                lines.append(f"source: {self.case.source}")
            lines += [f"  {m}" for m in excinfo.value.mismatches]
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"policy case: {self.case.name}"


class PolicyCaseFailure(Exception):
    def __init__(self, mismatches):
        super().__init__("\n".join(mismatches))
        self.mismatches = mismatches
