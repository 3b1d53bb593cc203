"""Limits: every bound on policy input and on evaluation, in one table, each with its stable code.

Loading a policy (YAML composition, parsing, checking, code generation) and evaluating it are
bounded by construction: sizes and depths are checked before any recursive step, a rule's cost is
estimated statically (cost.py) and a runtime budget counts loop trips per finding. The defaults
admit a 30k-community province (records: recordio.RecordLimits); override them with
`load_policy(..., limits=PolicyLimits(max_rule_cost=...))` or `--limit KEY=VALUE` on the command line.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import attrs


@attrs.frozen
class PolicyLimits:
    # policy and library files (source.py, policyfile.py)
    max_file_bytes: int = 4 << 20         # PE503: 4 MiB per file (the largest bundled policy is 66 KB)
    max_yaml_depth: int = 32              # PE505: nesting of the YAML document (policies need 6)
    # YAML aliases are refused in policy files (PE504); test files and records allow them, bounded
    # (RecordLimits.max_alias_expansion)
    max_number_digits: int = 40           # PE506: significant digits of a number in a policy file
    max_number_exponent: int = 40         # PE506: |exponent| of its leading digit
    max_list_items: int = 10_000          # PE507: items of a list or map written in a policy file
    # expressions (parser.py, checker.py, compiler.py)
    max_expression_depth: int = 64        # PE501: nesting of one expression
    max_expression_length: int = 4000     # PE502: characters of one expression
    max_expanded_nodes: int = 20_000      # PE501: nodes of an expression after inlining definitions
    max_definition_depth: int = 48        # PE509: definitions that call definitions, deep
    max_code_depth: int = 120             # PE510: nesting of generated code (Python's parser stops near 200)
    max_rule_cost: int = 10 ** 15         # PE508: static cost estimate of one rule (cost.py) …
    assumed_collection_size: int = 1_000_000  # … assuming a province-wide collection of this many records
    assumed_navigation_size: int = 100        # … and lists reached from one record (community.units) this long
    # evaluation (runtime.py): a finding over these is an `error`
    max_loop_trips: int = 20_000_000      # EV105: loop trips per (rule, subject, period)
    max_integer_digits: int = 60          # EV104: digits of an integer computed by a rule
    max_value_length: int = 1_000_000     # EV111: items of a text or list a rule builds (+, concat, flatten,
                                          # replace; each item built is also a loop trip)

    @classmethod
    def with_overrides(cls, pairs: dict[str, str], base: "PolicyLimits | None" = None) -> "PolicyLimits":
        """`{"max_rule_cost": "1000"}` → limits (ValueError naming the known keys otherwise)."""
        known = {field.name for field in attrs.fields(cls)}
        unknown = set(pairs) - known
        if unknown:
            raise ValueError(f"unknown policy limit {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values = {}
        for key, text in pairs.items():
            value = int(str(text).replace("_", ""))
            if value < 1:
                raise ValueError(f"policy limit {key} must be a positive integer, got {text}")
            values[key] = value
        return attrs.evolve(base or cls(), **values)


DEFAULT = PolicyLimits()

# the limits in force while a policy loads (set by engine.load_policy; the defaults otherwise)
_CURRENT: contextvars.ContextVar[PolicyLimits] = contextvars.ContextVar("policy_limits", default=DEFAULT)


def current() -> PolicyLimits:
    return _CURRENT.get()


@contextlib.contextmanager
def using(limits: PolicyLimits | None) -> Iterator[PolicyLimits]:
    token = _CURRENT.set(limits or DEFAULT)
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)
