"""policyengine: education-community policies as data, checked and compiled once, evaluated on records.

Pipeline (one module per stage): policyfile (YAML → model) → parser (expressions → AST) →
checker (AST → typed IR) → compiler (IR → Python functions) → evaluator (records → findings).
`engine` is the facade.
"""

# the one source of truth for the version (pyproject.toml reads it; `policyengine --version` prints it)
__version__ = "0.1.0"

from policyengine.diagnostics import Diagnostic, PolicyError
from policyengine.engine import Policy, check_file, compile_expression, load_policy
from policyengine.limits import PolicyLimits
from policyengine.records import RecordErrors, RecordSet, load_records
from policyengine.report import Finding, Report
from policyengine.runtime import Duration, EvaluationError, Period

__all__ = [
    "Diagnostic", "Duration", "EvaluationError", "Finding", "Period", "Policy", "PolicyError", "PolicyLimits", "RecordErrors", "RecordSet",
    "Report", "check_file", "compile_expression", "load_policy", "load_records", "__version__",
]
