"""Engine: the facade. Policy file → read (policyfile) → elaborate (imports, parameters, definitions,
rules: elaborate.py) → frozen `Policy`; `Policy.evaluate` runs the compiled rules (evaluator.py).

`load_policy` does all the work once; `Policy.evaluate` then only runs compiled functions over
records. `compile_expression` offers the same pipeline for one expression, as CEL and zen do.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import attrs

from policyengine import parser, resources
from policyengine import typesys as t
from policyengine.checker import Checker, Environment, Parameter
from policyengine.compiler import compile_ir
from policyengine.diagnostics import Diagnostic, PolicyError
from policyengine.elaborate import RESULT_TYPES, elaborate, python_constant, python_type  # noqa: F401 (re-exported)
from policyengine.elaborate import fields_of as schema_fields_of
from policyengine.evaluator import CompiledRule, Scope, evaluate_rules
from policyengine.policyfile import LibraryModel, read_file
from policyengine.recordschema import RecordSchema, load_record_schema
from policyengine.records import RecordSet, load_records
from policyengine.report import Finding, Report
from policyengine.limits import DEFAULT as DEFAULT_LIMITS
from policyengine.limits import current as current_limits
from policyengine.limits import PolicyLimits
from policyengine.limits import using as using_limits
from policyengine.schemaext import schema_for_policy
from policyengine.source import YamlLimitError, read_policy_text


@attrs.frozen
class Policy:
    """A checked, compiled policy. Frozen: its parameters cannot be changed by a caller (load it again
    with `parameters=` to evaluate another reading)."""

    name: str
    path: str
    jurisdiction: str
    jurisdiction_name: str
    title: str
    source_file: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    parameters: Mapping[str, Any]
    ambiguities: Mapping[str, str]
    rules: tuple[CompiledRule, ...]
    rule_kinds: Mapping[str, tuple[str, str | None]]
    not_encoded: tuple[tuple[str, str], ...]
    warnings: tuple[Diagnostic, ...] = ()  # e.g. unused definitions (PE208); errors raise PolicyError
    libraries: tuple[str, ...] = ()  # the library files imported, directly or not
    record_schema: RecordSchema = attrs.field(factory=load_record_schema, repr=False)  # core + extension
    jurisdiction_aliases: tuple[str, ...] = ()  # other `city` values that mark this jurisdiction's records
    declarations: tuple = attrs.field(default=(), repr=False)  # every RuleDecl, template instances expanded

    @property
    def scope(self) -> Scope:
        """The records this policy judges: those whose city is its id, its name or an alias (or none)."""
        cities = {self.jurisdiction, self.jurisdiction_name, *self.jurisdiction_aliases} - {""}
        return Scope(self.jurisdiction, frozenset(cities) if self.jurisdiction else frozenset())

    def load_records(self, sources: Any, limits: Any = None, input_format: str | None = None) -> RecordSet:
        """Records validated against this policy's record schema (its extension included);
        `limits`: a RecordLimits overriding the input bounds; `input_format`: the format of `-`."""
        return load_records(sources, schema=self.record_schema, limits=limits, input_format=input_format)

    def evaluate(self, records: RecordSet | Any, as_of: dt.date | None = None,
                 rules: Iterable[str] | None = None) -> Report:
        """Evaluate every rule (or the rules named by `rules`: ids or globs such as `ruian.reward.*`;
        one that names no rule raises KeyError) on every subject. `records`: a RecordSet, a path or
        a mapping."""
        from policyengine.batch import select_rules

        chosen = self.rules if rules is None else select_rules(self, rules)
        return self._evaluate_rules(chosen, records, as_of or dt.date.today())

    def evaluate_many(self, shards: Iterable[Any], as_of: dt.date | None = None,
                      jurisdiction_records: Any = None) -> Iterator[Finding]:
        """Stream findings over record sets too large for memory at once.

        `shards` yields record sets (paths, mappings or RecordSets), each closed under navigation:
        a group of communities with their units, persons, assignments, activities … Only one shard
        is held at a time. Rules that read only their subject and what it navigates to are
        evaluated shard by shard; rules that read province-wide collections (jurisdiction targets,
        budget floors, uniqueness across communities — `Policy.scanning_rules`) run once, as the
        final reduce step, on `jurisdiction_records`: the province-wide records those rules read
        (e.g. the communities, units and budgets), which the caller supplies. Findings come out
        shard by shard, each shard's in the report's order; the union equals `evaluate` on all the
        records whenever every shard is closed and the jurisdiction records hold what the scanning
        rules read."""
        as_of = as_of or dt.date.today()
        local = tuple(rule for rule in self.rules if not rule.scans)
        scanning = tuple(rule for rule in self.rules if rule.scans)
        if scanning and jurisdiction_records is None:
            raise ValueError("these rules read province-wide collections and need jurisdiction_records: "
                             + ", ".join(rule.id for rule in scanning))
        for shard in shards:
            yield from self._evaluate_rules(local, shard, as_of).findings
        if scanning:
            yield from self._evaluate_rules(scanning, jurisdiction_records, as_of).findings

    @property
    def scanning_rules(self) -> tuple[str, ...]:
        """Ids of the rules that read province-wide collections (see `evaluate_many`)."""
        return tuple(rule.id for rule in self.rules if rule.scans)

    def _evaluate_rules(self, rules: tuple[CompiledRule, ...], records: Any, as_of: dt.date) -> Report:
        if not isinstance(records, RecordSet):
            records = self.load_records(records)
        elif records.schema is not self.record_schema and self.record_schema is not load_record_schema():
            raise ValueError(f"these records were not loaded with the record schema of {self.name}, which "
                             "extends the core schema: load them with policy.load_records(...)")
        return evaluate_rules(rules, records, as_of, self.scope, (self.effective_from, self.effective_to),
                              self.name, tuple(self.record_schema.collections))

    def rule(self, rule_id: str) -> CompiledRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def policy_path(name_or_path: str | Path) -> Path:
    bundled = resources.bundled_policy(str(name_or_path)) if "/" not in str(name_or_path) else None
    return bundled or Path(name_or_path)


def load_policy(name_or_path: str | Path, parameters: Mapping[str, Any] | None = None,
                limits: PolicyLimits | None = None) -> Policy:
    """Load, check and compile a bundled policy (`"liuzhou"`) or a policy file. Raises PolicyError
    with every diagnostic of the file. `limits`: bounds other than the defaults (limits.py)."""
    path = policy_path(name_or_path)
    overrides = tuple(sorted((parameters or {}).items(), key=lambda kv: kv[0]))
    limits = limits or current_limits()  # the command line's --limit, or the defaults
    key = (str(path), path.stat().st_mtime_ns, overrides, limits)
    try:
        cached = _CACHE.get(key)
    except TypeError:  # unhashable override values
        return _load(str(path), dict(overrides), limits)
    if cached is not None and cached[1] == _mtimes(cached[0].libraries):  # imported libraries unchanged too
        return cached[0]
    policy = _load(str(path), dict(overrides), limits)
    if len(_CACHE) >= 64:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (policy, _mtimes(policy.libraries))
    return policy


_CACHE: dict[tuple, tuple[Policy, tuple]] = {}  # (path, mtime, overrides) → (policy, its libraries' mtimes)


def _mtimes(paths: tuple[str, ...]) -> tuple:
    result = []
    for path in paths:
        try:
            result.append(Path(path).stat().st_mtime_ns)
        except OSError:
            result.append(None)
    return tuple(result)


def check_file(path: str | Path, limits: PolicyLimits | None = None) -> list[Diagnostic]:
    """Every diagnostic of one policy or library file, warnings included (empty when it is clean)."""
    try:
        return list(_load(str(path), {}, limits or current_limits()).warnings)
    except PolicyError as error:
        return list(error.diagnostics)


def _load(path: str, overrides: Mapping[str, Any], limits: PolicyLimits = DEFAULT_LIMITS) -> Policy:
    with using_limits(limits):  # every stage reads its bounds from limits.current()
        return _load_within(path, overrides, limits)


def _load_within(path: str, overrides: Mapping[str, Any], limits: PolicyLimits) -> Policy:
    try:
        text = read_policy_text(path)
    except YamlLimitError as error:
        raise PolicyError([Diagnostic(code, span, args) for code, span, args in error.problems]) from None
    model, diagnostics = read_file(path, text)
    if model is None:
        raise PolicyError(diagnostics)
    record_schema, schema_diagnostics = schema_for_policy(path)  # the core schema + the policy's extension
    diagnostics.extend(schema_diagnostics)
    result = elaborate(model, record_schema, diagnostics, overrides)
    if any(not d.is_warning for d in diagnostics):
        raise PolicyError(diagnostics)
    warnings = PolicyError(diagnostics).diagnostics  # sorted, each once
    if isinstance(model, LibraryModel):
        return Policy(name=Path(path).stem, path=path, jurisdiction="", jurisdiction_name="", title="",
                      source_file="", effective_from=None, effective_to=None,
                      parameters=types.MappingProxyType({}), ambiguities=types.MappingProxyType({}), rules=(),
                      rule_kinds=types.MappingProxyType({}), not_encoded=(), warnings=warnings,
                      libraries=result.libraries, record_schema=record_schema)
    m = model
    return Policy(
        name=m.jurisdiction_id or Path(m.path).stem, path=m.path, jurisdiction=m.jurisdiction_id,
        jurisdiction_name=m.jurisdiction_name, title=m.title, source_file=m.source_file,
        effective_from=m.effective_from, effective_to=m.effective_to,
        parameters=types.MappingProxyType({p.name: p.value for p in result.parameters.values()}),
        ambiguities=types.MappingProxyType({d.name: d.ambiguity for d in m.parameters if d.ambiguity}),
        rules=result.rules,
        rule_kinds=types.MappingProxyType({d.id: (d.kind, d.strength) for d in result.decls}),
        not_encoded=tuple((x.id, x.reason) for x in m.not_encoded), warnings=warnings,
        libraries=result.libraries, record_schema=record_schema, jurisdiction_aliases=m.jurisdiction_aliases,
        declarations=result.decls)


# ---------------------------------------------------------------------------------------- expressions


def compile_expression(text: str, record_type: str | Mapping[str, str], *, name: str = "record",
                       parameters: Mapping[str, Any] | None = None,
                       limits: PolicyLimits | None = None) -> Callable[[Any], Any]:
    """Compile one expression against a record type, once; call the result per record.

    `record_type` is a schema kind (`"unit"`, the record is bound to `name`, default `record`) or an
    ad-hoc mapping of field name → type (`{"z": "number", "z_prev": "number?"}`), in which case each
    record is a mapping. Raises PolicyError with positions inside `text`. `limits`: bounds other
    than the defaults (limits.py); a call over the loop-trip budget or the integer bound raises
    EvaluationError (code EV105 / EV104).
    """
    with using_limits(limits or current_limits()):
        return _compile_expression(text, record_type, name=name, parameters=parameters)


def _compile_expression(text: str, record_type: str | Mapping[str, str], *, name: str = "record",
                        parameters: Mapping[str, Any] | None = None) -> Callable[[Any], Any]:
    """The body of compile_expression, under the limits in force."""
    diagnostics: list[Diagnostic] = []
    scalar = parser.expression_scalar(text)
    node = parser.parse(scalar, diagnostics)
    schema = load_record_schema()
    if isinstance(record_type, str):
        if record_type not in schema.kinds:
            raise ValueError(f"unknown record type {record_type!r}; choose one of {sorted(schema.kinds)}")
        variable_type: t.Type = t.record(record_type)
        adhoc: Mapping[str, tuple[t.Type, bool]] = {}
    else:
        variable_type = t.record("__record__")
        adhoc = {field: _adhoc_type(spec, schema) for field, spec in record_type.items()}
    def fields_of(record: t.Type):
        return adhoc if record.name == "__record__" else schema_fields_of(schema, record)

    constants = {k: Parameter(k, v, python_type(v)) for k, v in (parameters or {}).items()}
    env = Environment({name: variable_type}, {}, constants, {}, fields_of,
                      frozenset({"__record__"}) if adhoc else frozenset())
    checked = Checker(env, diagnostics).check(node) if node is not None else None
    if diagnostics or checked is None:
        raise PolicyError(diagnostics)
    # as in Policy.evaluate, arithmetic runs in runtime.DECIMAL_CONTEXT, not the caller's context:
    # the generated function switches to it itself (no wrapper call, and only when it has to)
    function = compile_ir(checked, (name,), "expression", own_decimal_context=True)
    return _exact_float_inputs(function, adhoc) if adhoc else function


def _exact_float_inputs(function: Callable[[Any], Any], adhoc: Mapping[str, tuple[t.Type, bool]]) -> Callable[[Any], Any]:
    """Floats given to numeric fields of an ad-hoc record are converted exactly from their shortest
    repr (0.1 → Decimal("0.1"), as the record loader does), never computed as binary floats;
    NaN and infinities are refused. Calls without floats pay one type check per numeric field."""
    numeric = tuple(field for field, (kind, _) in adhoc.items() if _holds_numbers(kind))
    scalars = tuple(field for field in numeric if adhoc[field][0] in (t.NUMBER, t.MONEY))
    containers = tuple(field for field in numeric if field not in scalars)
    if not numeric:
        return function

    def exact(record: Any) -> Any:
        return function({**record, **{f: _float_exact(record[f], f) for f in numeric if f in record}})

    def call(record: Any) -> Any:
        for field in scalars:
            if type(record.get(field)) is float:
                return exact(record)
        for field in containers:
            value = record.get(field)
            if isinstance(value, (list, tuple, dict)) and _has_float(value):
                return exact(record)
        return function(record)

    return functools.update_wrapper(call, function)  # __wrapped__, __policyengine_source__ and the like


def _holds_numbers(kind: t.Type) -> bool:
    if isinstance(kind, t.ListType):
        return _holds_numbers(kind.element)
    if isinstance(kind, t.MapType):
        return _holds_numbers(kind.value)
    return kind in (t.NUMBER, t.MONEY)


def _has_float(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(type(item) is float or (isinstance(item, (list, tuple, dict)) and _has_float(item)) for item in items)


def _float_exact(value: Any, field: str) -> Any:
    if type(value) is float:
        exact = Decimal(repr(value))
        if not exact.is_finite():
            raise ValueError(f"record field {field!r} is {value!r}, not a finite number")
        return exact
    if isinstance(value, dict):
        return {key: _float_exact(item, field) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_float_exact(item, field) for item in value)
    return value


def _adhoc_type(spec: str, schema: RecordSchema) -> tuple[t.Type, bool]:
    from policyengine.recordschema import language_type, parse_spec

    optional = spec.endswith("?")
    value_spec = parse_spec(spec.rstrip("?"), set(schema.kinds), set(schema.enums))
    return language_type(value_spec, schema.enums), optional
