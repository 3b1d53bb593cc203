"""Engine: the facade. Policy file → load → parse → check → compile → frozen `Policy`.

`load_policy` does all the work once; `Policy.evaluate` then only runs compiled functions over
records. `compile_expression` offers the same pipeline for one expression, as CEL and zen do.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import types
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import attrs

from policyengine import ir, parser, resources
from policyengine import typesys as t
from policyengine.checker import Checker, Definition, Environment, Parameter
from policyengine.compiler import compile_ir
from policyengine.diagnostics import Diagnostic, PolicyError
from policyengine.evaluator import SUBJECT_VARIABLES, CompiledRule, evaluate_rules
from policyengine.policyfile import NAMED_CONDITION_KEYS, ParameterDecl, PolicyModel, RuleDecl, read_policy_file
from policyengine.recordschema import RecordSchema, load_record_schema
from policyengine.records import RecordSet, load_records
from policyengine.report import Finding, Report
from policyengine.runtime import DECIMAL_CONTEXT
from policyengine.source import Scalar

RESULT_TYPES = {"when": (t.BOOL,), "require": (t.BOOL,), "grant": (t.BOOL,), "exception": (t.BOOL,),
                "pays_when": (t.BOOL,), "due": (t.DATE,), "amount": (t.MONEY, t.NUMBER), "value": (),
                "values": ()}


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

    def evaluate(self, records: RecordSet | Any, as_of: dt.date | None = None) -> Report:
        """Evaluate every rule on every subject. `records`: a RecordSet, a path or a mapping."""
        return self._evaluate_rules(self.rules, records, as_of or dt.date.today())

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
            records = load_records(records)
        return evaluate_rules(rules, records, as_of, self.jurisdiction, (self.effective_from, self.effective_to),
                              self.name, tuple(load_record_schema().collections))

    def rule(self, rule_id: str) -> CompiledRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def policy_path(name_or_path: str | Path) -> Path:
    bundled = resources.bundled_policy(str(name_or_path)) if "/" not in str(name_or_path) else None
    return bundled or Path(name_or_path)


def load_policy(name_or_path: str | Path, parameters: Mapping[str, Any] | None = None) -> Policy:
    """Load, check and compile a bundled policy (`"liuzhou"`) or a policy file. Raises PolicyError
    with every diagnostic of the file."""
    path = policy_path(name_or_path)
    overrides = tuple(sorted((parameters or {}).items(), key=lambda kv: kv[0]))
    try:
        return _load_cached(str(path), path.stat().st_mtime_ns, overrides)
    except TypeError:  # unhashable override values
        return _load(str(path), dict(overrides))


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, _mtime: int, overrides: tuple) -> Policy:
    return _load(path, dict(overrides))


def check_file(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic of one policy file (empty when it is clean)."""
    try:
        _load(str(path), {})
    except PolicyError as error:
        return list(error.diagnostics)
    return []


def _load(path: str, overrides: Mapping[str, Any]) -> Policy:
    text = Path(path).read_text(encoding="utf-8")
    model, diagnostics = read_policy_file(path, text)
    if model is None:
        raise PolicyError(diagnostics)
    builder = _Builder(model, load_record_schema(), diagnostics)
    policy = builder.build(overrides)
    if diagnostics:
        raise PolicyError(diagnostics)
    return policy


class _Builder:
    """Parses, checks and compiles every expression of one policy model."""

    def __init__(self, model: PolicyModel, schema: RecordSchema, diagnostics: list[Diagnostic]):
        self.model = model
        self.schema = schema
        self.diagnostics = diagnostics

    def build(self, overrides: Mapping[str, Any]) -> Policy:
        parameters = self.parameters(overrides)
        definitions = self.definitions(parameters)
        rules = tuple(r for r in (self.rule(d, definitions, parameters) for d in self.model.rules) if r)
        m = self.model
        return Policy(
            name=m.jurisdiction_id or Path(m.path).stem, path=m.path, jurisdiction=m.jurisdiction_id,
            jurisdiction_name=m.jurisdiction_name, title=m.title, source_file=m.source_file,
            effective_from=m.effective_from, effective_to=m.effective_to,
            parameters=types.MappingProxyType({p.name: p.value for p in parameters.values()}),
            ambiguities=types.MappingProxyType({d.name: d.ambiguity for d in m.parameters if d.ambiguity}),
            rules=rules,
            rule_kinds=types.MappingProxyType({d.id: (d.kind, d.strength) for d in m.rules}),
            not_encoded=tuple((x.id, x.reason) for x in m.not_encoded))

    # parameters -------------------------------------------------------------------------------
    def parameters(self, overrides: Mapping[str, Any]) -> dict[str, Parameter]:
        result: dict[str, Parameter] = {}
        declared = {d.name for d in self.model.parameters}
        for name in overrides:
            if name not in declared:
                raise PolicyError([Diagnostic("PE201", _span_of(self.model), {"name": name})])
        for decl in self.model.parameters:
            parameter = self.parameter(decl)
            if parameter is None:
                continue
            if decl.name in overrides:
                parameter = self.override(decl, parameter, overrides[decl.name])
            result[decl.name] = parameter
        return result

    def parameter(self, decl: ParameterDecl) -> Parameter | None:
        value, value_type = self.constant(decl.value)
        if value_type is None:
            return None
        parameter = Parameter(decl.name, value, value_type)
        if not self.conforms(decl, parameter):
            return parameter  # reported; still in scope so that its uses do not cascade into PE201
        declared = self.declared_type(decl.type) if decl.type is not None else None
        return attrs.evolve(parameter, type=declared) if declared is not None else parameter  # `[]` → list<string>

    def constant(self, scalar: Scalar) -> tuple[Any, t.Type | None]:
        node = parser.parse(scalar, self.diagnostics)
        if node is None:
            return None, None
        env = Environment({}, {}, {}, {}, self.fields_of)
        checked = Checker(env, self.diagnostics).check(node)
        if checked is None:
            return None, None
        with decimal.localcontext(DECIMAL_CONTEXT):
            return compile_ir(checked, ())(), checked.type

    def conforms(self, decl: ParameterDecl, parameter: Parameter) -> bool:
        problem = None
        declared = self.declared_type(decl.type) if decl.type is not None else parameter.type
        if declared is None or t.unify(declared, parameter.type) != declared:
            problem = f"type {decl.type} ≠ {parameter.type}"
        elif decl.choices is not None and parameter.value not in decl.choices:
            problem = f"{parameter.value!r} ∉ {list(decl.choices)}"
        if problem:
            self.diagnostics.append(Diagnostic("PE408", decl.value.span, {"name": decl.name, "problem": problem}))
            return False
        return True

    def declared_type(self, text: str) -> t.Type | None:
        """The language type a parameter declares (`number`, `money`, `list<string>` …), or None."""
        from policyengine.recordschema import SchemaError, language_type, parse_spec

        if text in t.SCALARS:
            return t.SCALARS[text]
        try:
            return language_type(parse_spec(text, set(self.schema.kinds), set(self.schema.enums)),
                                 self.schema.enums)
        except (SchemaError, KeyError, ValueError):
            return None

    def override(self, decl: ParameterDecl, base: Parameter, value: Any) -> Parameter:
        """A caller's value for a parameter: a Python value, or an expression string for a
        non-string parameter. It must have the declared type (and be one of its choices)."""
        if isinstance(value, str) and not t.is_stringlike(base.type):
            parsed, parsed_type = self.constant(parser.expression_scalar(value, f"<parameter {decl.name}>"))
        else:
            parsed, parsed_type = _python_constant(value, base.type)
        common = t.unify(base.type, parsed_type) if parsed_type is not None else None
        candidate = Parameter(decl.name, parsed, common or base.type)  # `[]` defaults take their override's type
        if common is None or not self.conforms(
                decl, candidate) or self.diagnostics:
            self.diagnostics.append(Diagnostic("PE408", decl.value.span,
                                               {"name": decl.name, "problem": f"override {value!r}"}))
            raise PolicyError(self.diagnostics)
        return candidate

    # definitions and rules --------------------------------------------------------------------
    def definitions(self, parameters: Mapping[str, Parameter]) -> dict[str, Definition]:
        result: dict[str, Definition] = {}
        for decl in self.model.definitions:
            if decl.name in result or decl.name in parameters:
                self.diagnostics.append(Diagnostic("PE206", decl.span, {"name": decl.name}))
                continue
            result[decl.name] = Definition(decl.name, decl.params, parser.parse(decl.body, self.diagnostics))
        return result

    def fields_of(self, record_type: t.Type) -> Mapping[str, tuple[t.Type, bool]]:
        kind = self.schema.kinds.get(record_type.name)
        if kind is None:
            return {}
        fields = {name: (f.type, f.optional) for name, f in kind.fields.items()}
        fields.update({name: (nav.type, nav.optional) for name, nav in kind.navigations.items()})
        return fields

    def environment(self, decl: RuleDecl, definitions, parameters) -> Environment:
        variables = {v: t.record(v) for v in SUBJECT_VARIABLES[decl.subject][0]}  # variable = record kind
        if decl.per:
            variables["period"] = t.PERIOD
        return Environment(variables, definitions, parameters, self.globals(), self.fields_of)

    def globals(self) -> dict[str, t.Type]:
        result: dict[str, t.Type] = {"as_of": t.DATE}
        for collection, kind in self.schema.collections.items():
            result[collection] = t.list_of(t.record(kind.name))
        return result

    def rule(self, decl: RuleDecl, definitions, parameters) -> CompiledRule | None:
        env = self.environment(decl, definitions, parameters)
        checker = Checker(env, self.diagnostics)
        arguments = (*env.variables, "_g")
        before = len(self.diagnostics)
        compiled: dict[str, Any] = {}
        amount_type = None
        for key, scalar in decl.expressions.items():
            if isinstance(scalar, dict):
                compiled[key] = tuple((name, self.function(checker, s, key, arguments, decl.id)[0])
                                      for name, s in scalar.items())
                continue
            function, result_type = self.function(checker, scalar, key, arguments, decl.id)
            compiled[key] = ((_short(scalar.text), function),) if key in NAMED_CONDITION_KEYS else function
            if key == "amount":
                amount_type = result_type
        values = tuple((name, self.function(checker, s, "values", arguments, decl.id)[0])
                       for name, s in decl.values.items())
        if len(self.diagnostics) > before or decl.citation is None:
            return None
        return CompiledRule(
            id=decl.id, kind=decl.kind, strength=decl.strength, subject=decl.subject, per=decl.per,
            when=compiled.get("when", ()), require=compiled.get("require", ()), grant=compiled.get("grant", ()),
            exception=compiled.get("exception"), due=compiled.get("due"), amount=compiled.get("amount"),
            amount_is_money=amount_type == t.MONEY, pays_when=compiled.get("pays_when"),
            value=compiled.get("value"), values=values,
            parameters=tuple((p, parameters[p].value) for p in sorted(checker.parameters_used)),
            scans=tuple(sorted(checker.collections_used)),
            citation=decl.citation,
            message=decl.message_zh or decl.message_en)

    def function(self, checker: Checker, scalar: Scalar, key: str, arguments,
                 rule_id: str) -> tuple[Callable | None, t.Type | None]:
        """Parse, check and compile one expression of a rule: (function, result type), or Nones."""
        node = parser.parse(scalar, self.diagnostics)
        checked = checker.expect(node, RESULT_TYPES[key], key) if node is not None else None
        if checked is None:
            return None, None
        return compile_ir(checked, arguments, _function_name(rule_id, key)), checked.type


def _function_name(rule_id: str, key: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in f"{rule_id}__{key}")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "…"


def _span_of(model: PolicyModel):
    from policyengine.source import Span

    return Span(model.path, 1, 1)


# ---------------------------------------------------------------------------------------- expressions


def compile_expression(text: str, record_type: str | Mapping[str, str], *, name: str = "record",
                       parameters: Mapping[str, Any] | None = None) -> Callable[[Any], Any]:
    """Compile one expression against a record type, once; call the result per record.

    `record_type` is a schema kind (`"unit"`, the record is bound to `name`, default `record`) or an
    ad-hoc mapping of field name → type (`{"z": "number", "z_prev": "number?"}`), in which case each
    record is a mapping. Raises PolicyError with positions inside `text`.
    """
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
    builder = _Builder(PolicyModel("<expression>", "", "", "", "", None, None, None, (), (), (), ()),
                       schema, diagnostics)

    def fields_of(record: t.Type):
        return adhoc if record.name == "__record__" else builder.fields_of(record)

    constants = {k: Parameter(k, v, _python_type(v)) for k, v in (parameters or {}).items()}
    env = Environment({name: variable_type}, {}, constants, {}, fields_of,
                      frozenset({"__record__"}) if adhoc else frozenset())
    checked = Checker(env, diagnostics).check(node) if node is not None else None
    if diagnostics or checked is None:
        raise PolicyError(diagnostics)
    # as in Policy.evaluate, arithmetic runs in runtime.DECIMAL_CONTEXT, not the caller's context:
    # the generated function switches to it itself (no wrapper call, and only when it has to)
    return compile_ir(checked, (name,), "expression", own_decimal_context=True)


def _adhoc_type(spec: str, schema: RecordSchema) -> tuple[t.Type, bool]:
    from policyengine.recordschema import language_type, parse_spec

    optional = spec.endswith("?")
    value_spec = parse_spec(spec.rstrip("?"), set(schema.kinds), set(schema.enums))
    return language_type(value_spec, schema.enums), optional


def _python_constant(value: Any, expected: t.Type) -> tuple[Any, t.Type | None]:
    """A Python override value in the runtime representation, with its type (None: unusable)."""
    if isinstance(value, (list, tuple)):
        element = expected.element if isinstance(expected, t.ListType) else t.ANY
        items = [_python_constant(v, element) for v in value]
        if any(item_type is None for _, item_type in items):
            return None, None
        item_type = t.ANY
        for _, other in items:
            item_type = t.unify(item_type, other)
            if item_type is None:
                return None, None
        return tuple(v for v, _ in items), t.list_of(item_type)
    if isinstance(value, float):
        return None, None  # floats are never exact: write the value as a string
    if expected == t.MONEY and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value), t.MONEY
    try:
        return value, _python_type(value)
    except TypeError:
        return None, None


def _python_type(value: Any) -> t.Type:
    if isinstance(value, bool):
        return t.BOOL
    if isinstance(value, (int, Decimal)):
        return t.NUMBER
    if isinstance(value, str):
        return t.STRING
    if isinstance(value, dt.date):
        return t.DATE
    raise TypeError(f"unsupported constant {value!r}")
