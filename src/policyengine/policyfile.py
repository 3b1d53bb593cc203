"""Policy file loader: YAML text → PolicyModel (the file's shape, every value with its position).

A filter between the file and the engine: every key is known or reported (PE4xx), nothing is
passed through as a raw dict, and expressions stay unparsed `Scalar`s for the parser and checker.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs

from policyengine.citations import parameter_source
from policyengine import rulekinds
from policyengine.diagnostics import Diagnostic
from policyengine.report import Citation  # the source sentence a rule comes from, carried into findings
from policyengine.source import (DuplicateKey, Mapping, Scalar, Sequence, Span, YamlLimitError, YamlSyntaxError,
                                 load_yaml)

RULE_KINDS = tuple(rulekinds.RULE_KINDS)
STRENGTHS = ("hard", "soft", "advisory")
SUBJECTS = tuple(rulekinds.SUBJECTS)
PERIODS = ("semester", "school_year", "calendar_year")
EXPRESSION_KEYS = ("when", "require", "exception", "due", "amount", "pays_when", "grant", "value")

# which expression keys each rule kind needs and takes (rulekinds.py)
KIND_NEEDS = {name: kind.needs for name, kind in rulekinds.RULE_KINDS.items()}
KIND_TAKES = {name: kind.takes for name, kind in rulekinds.RULE_KINDS.items()}
NAMED_CONDITION_KEYS = ("when", "require", "grant")

TOP_KEYS = ("format", "jurisdiction", "title", "source", "effective", "description", "imports", "parameters",
            "definitions", "rules", "not_encoded")
LIBRARY_KEYS = ("format", "description", "imports", "definitions", "templates")
POLICY_FORMAT = "policyengine/1"
LIBRARY_FORMAT = "policyengine-library/1"
DEFINITION_KEYS = ("params", "type", "expr", "description")

# One identifier rule for every name an author declares (parameters, definitions and their parameters,
# `let:` names, templates and their arguments): lower-case ASCII, digits and `_`, starting with a letter,
# at most 64 characters, not a keyword. The grammar's NAME token accepts all of them, and the compiler
# can emit them (mangled) without escaping surprises.
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")
KEYWORDS = frozenset({"if", "then", "else", "and", "or", "not", "in", "between", "for", "where", "true", "false"})
# Rule ids (catalog §1.6): `city.group.name`, lower-case ASCII, at least two dot-separated parts.
RULE_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


def is_identifier(name: str) -> bool:
    return bool(IDENTIFIER.fullmatch(name)) and name not in KEYWORDS
RULE_KEYS = ("id", "kind", "strength", "subject", "per", "let", *EXPRESSION_KEYS, "values", "citation", "message",
             "description", "note", "concept")
NOT_ENCODED_KEYS = ("id", "reason", "file", "section", "quote")
TEMPLATE_KEYS = ("params", "description", "rule")
TEMPLATE_RULE_KEYS = tuple(k for k in RULE_KEYS if k not in ("id", "citation", "message"))
# what an instance of a template writes: its own id, citation and message; the template's arguments;
# and, replacing the template's, its strength or period
INSTANCE_KEYS = ("id", "template", "args", "citation", "message", "description", "note", "strength", "per",
                 "concept")
PARAMETER_KEYS = ("value", "type", "unit", "description", "ambiguity", "choices", "effective", "source")


@attrs.frozen
class ParameterDecl:
    name: str
    value: Scalar
    type: str | None
    unit: str | None
    description: str | None
    ambiguity: str | None
    choices: tuple[str, ...] | None
    span: Span
    source: Citation | None = None  # the sentence the value comes from (`source:`, checked by check --sources)


@attrs.frozen
class DefinitionDecl:
    """`name(a, b): "expr"` (untyped: a macro, inlined and checked where used) or the typed form
    `name: {params: {a: T, b: U}, type: R, expr: "..."}` (checked once, compiled once as a function)."""

    name: str
    params: tuple[str, ...]
    body: Scalar
    span: Span
    param_types: tuple[Scalar, ...] | None = None  # typed form: the declared type of each parameter
    result_type: Scalar | None = None  # typed form: the declared result type
    description: str | None = None

    @property
    def typed(self) -> bool:
        return self.result_type is not None


@attrs.frozen
class TemplateDecl:
    """A rule template of a library: typed parameters and a rule body without id, citation or message."""

    name: str
    params: tuple[str, ...]
    param_types: tuple[Scalar, ...]
    rule: Mapping  # the rule's keys as written, completed by each instance
    description: str | None
    span: Span


@attrs.frozen
class TemplateUse:
    """A rule written as `template: NAME` with `args:`; expanded into a RuleDecl when elaborated."""

    id: str
    template: str
    args: dict  # parameter name → Scalar (an expression)
    item: Mapping  # the instance's own keys
    span: Span


@attrs.frozen
class ImportDecl:
    path: str  # as written: relative to the importing file, else to the bundled policies/ folder
    span: Span


@attrs.frozen
class RuleDecl:
    id: str
    kind: str
    strength: str | None
    subject: str
    per: str | None
    expressions: dict  # key → Scalar, or (for when/require/grant) a dict name → Scalar
    values: dict  # name → Scalar
    citation: Citation | None
    message_zh: str | None
    message_en: str | None
    description: str | None
    span: Span
    concept: str | None = None  # cross-city concept key (catalog §11), matches rules across policies in a diff
    lets: dict = attrs.field(factory=dict)  # name → Scalar, in order: rule-local names (`let:`)
    per_span: Span | None = None


@attrs.frozen
class NotEncoded:
    id: str
    reason: str
    span: Span


@attrs.frozen
class PolicyModel:
    path: str
    jurisdiction_id: str
    jurisdiction_name: str
    title: str
    source_file: str
    issued: dt.date | None
    effective_from: dt.date | None
    effective_to: dt.date | None
    parameters: tuple[ParameterDecl, ...]
    definitions: tuple[DefinitionDecl, ...]
    rules: tuple[RuleDecl, ...]
    not_encoded: tuple[NotEncoded, ...]
    imports: tuple[ImportDecl, ...] = ()
    instances: tuple[TemplateUse, ...] = ()  # rules written as template instances
    jurisdiction_aliases: tuple[str, ...] = ()  # other `city` values of its records (language.md §5.5)


@attrs.frozen
class LibraryModel:
    """A library file: typed definitions (and rule templates) shared by policies through `imports:`."""

    path: str
    description: str | None
    imports: tuple[ImportDecl, ...]
    definitions: tuple[DefinitionDecl, ...]
    templates: tuple[TemplateDecl, ...] = ()


def read_policy_file(path: str, text: str) -> tuple[PolicyModel | None, list[Diagnostic]]:
    model, diagnostics = read_file(path, text, POLICY_FORMAT)
    return model, diagnostics  # type: ignore[return-value]


def read_library_file(path: str, text: str) -> tuple[LibraryModel | None, list[Diagnostic]]:
    model, diagnostics = read_file(path, text, LIBRARY_FORMAT)
    return model, diagnostics  # type: ignore[return-value]


def read_file(path: str, text: str, expected: str | None = None) -> tuple[PolicyModel | LibraryModel | None,
                                                                         list[Diagnostic]]:
    """A policy or a library file, by its `format:` (or the `expected` one, reported if it differs)."""
    diagnostics: list[Diagnostic] = []
    try:
        tree, duplicates = load_yaml(path, text)
    except YamlLimitError as error:
        return None, [Diagnostic(code, span, args) for code, span, args in error.problems]
    except YamlSyntaxError as error:
        return None, [Diagnostic("PE100", error.span, {"problem": error.problem})]
    diagnostics += [Diagnostic("PE407", d.span, {"key": d.key}) for d in duplicates]
    reader = _Reader(diagnostics)
    if not isinstance(tree, Mapping):
        span = tree.span if tree is not None else Span(path, 1, 1)
        diagnostics.append(Diagnostic("PE403", span, {"key": "policy", "expected": "mapping"}))
        return None, diagnostics
    fmt = tree.get("format")
    written = str(fmt.value) if isinstance(fmt, Scalar) else None
    if expected is not None and written != expected and LIBRARY_FORMAT in (written, expected):
        reader.report("PE406", fmt.span if isinstance(fmt, Scalar) else tree.span, key="format", value=written,
                      choices=expected)  # a library where a policy is expected, or the reverse
        return None, diagnostics
    if (expected or written) == LIBRARY_FORMAT:
        return reader.library(path, tree), diagnostics
    return reader.policy(path, tree), diagnostics


def file_format(path: str, text: str) -> str | None:
    """The `format:` a file declares, read cheaply (None when it has none or does not parse)."""
    match = re.search(r"^format:\s*['\"]?([\w./-]+)", text, re.MULTILINE)
    return match.group(1) if match else None


class _Reader:
    """Walks the composed YAML, reporting every shape problem and building the model."""

    def __init__(self, diagnostics: list[Diagnostic], parameter_names: frozenset[str] = frozenset()):
        self.diagnostics = diagnostics
        self.parameter_names = parameter_names  # the policy's parameters (a `per:` may name one)

    def report(self, code: str, span: Span, **args: Any) -> None:
        self.diagnostics.append(Diagnostic(code, span, args))

    def keys(self, mapping: Mapping, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for key in mapping:
            if key not in allowed:
                self.report("PE401", mapping.key_spans[key], key=key, allowed=", ".join(allowed))
        for key in required:
            if key not in mapping:
                self.report("PE402", mapping.span, key=key)

    def mapping(self, parent: Mapping, key: str, required: bool = False) -> Mapping | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.report("PE402", parent.span, key=key)
            return None
        if not isinstance(value, Mapping):
            self.report("PE403", _span(value, parent, key), key=key, expected="mapping")
            return None
        return value

    def sequence(self, parent: Mapping, key: str) -> Sequence:
        value = parent.get(key)
        if value is None:
            return Sequence()
        if not isinstance(value, Sequence):
            self.report("PE403", _span(value, parent, key), key=key, expected="list")
            return Sequence()
        return value

    def scalar(self, parent: Mapping, key: str, required: bool = False) -> Scalar | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.report("PE402", parent.span, key=key)
            return None
        if not isinstance(value, Scalar):
            self.report("PE403", _span(value, parent, key), key=key, expected="scalar")
            return None
        return value

    def text(self, parent: Mapping, key: str, required: bool = False) -> str | None:
        value = self.scalar(parent, key, required)
        return None if value is None else str(value.value if isinstance(value.value, str) else value.text)

    def date(self, parent: Mapping, key: str) -> dt.date | None:
        value = self.scalar(parent, key)
        if value is None:
            return None
        if isinstance(value.value, dt.date):
            return value.value
        try:
            return dt.date.fromisoformat(value.text)
        except ValueError:
            self.report("PE403", value.span, key=key, expected="YYYY-MM-DD")
            return None

    def choice(self, parent: Mapping, key: str, choices: tuple[str, ...], required: bool) -> str | None:
        value = self.text(parent, key, required)
        if value is not None and value not in choices:
            self.report("PE406", parent[key].span, key=key, value=value, choices=", ".join(choices))
            return None
        return value

    # the file ------------------------------------------------------------------------------------
    def policy(self, path: str, top: Mapping) -> PolicyModel:
        self.keys(top, TOP_KEYS, ("format", "jurisdiction", "title", "source", "rules"))
        fmt = self.text(top, "format")
        if fmt is not None and fmt != POLICY_FORMAT:
            self.report("PE406", top["format"].span, key="format", value=fmt, choices=POLICY_FORMAT)
        jurisdiction = self.mapping(top, "jurisdiction") or Mapping()
        if jurisdiction:
            self.keys(jurisdiction, ("id", "name", "aliases"), ("id", "name"))
        source = self.mapping(top, "source") or Mapping()
        if source:
            self.keys(source, ("file", "issued", "title"), ("file",))
        effective = self.mapping(top, "effective") or Mapping()
        if effective:
            self.keys(effective, ("from", "to"), ("from",))
        declared = top.get("parameters")
        self.parameter_names = frozenset(map(str, declared)) if isinstance(declared, Mapping) else frozenset()
        items = self.sequence(top, "rules")
        rules = tuple(r for r in (self.rule(item) for item in items if not _is_instance(item)) if r is not None)
        instances = tuple(r for r in (self.instance(item) for item in items if _is_instance(item)) if r is not None)
        not_encoded = tuple(x for x in (self.not_encoded(i) for i in self.sequence(top, "not_encoded")) if x)
        self.unique_ids(rules + instances, not_encoded)
        return PolicyModel(
            path=path,
            jurisdiction_id=self.text(jurisdiction, "id") or "" if jurisdiction else "",
            jurisdiction_name=self.text(jurisdiction, "name") or "" if jurisdiction else "",
            jurisdiction_aliases=self.aliases(jurisdiction) if jurisdiction else (),
            title=self.text(top, "title") or "",
            source_file=self.text(source, "file") or "" if source else "",
            issued=self.date(source, "issued") if source else None,
            effective_from=self.date(effective, "from") if effective else None,
            effective_to=self.date(effective, "to") if effective else None,
            parameters=self.parameters(top),
            definitions=self.definitions(top),
            rules=rules,
            not_encoded=not_encoded,
            imports=self.imports(top),
            instances=instances,
        )

    def library(self, path: str, top: Mapping) -> LibraryModel:
        self.keys(top, LIBRARY_KEYS, ("format",))
        return LibraryModel(path, self.text(top, "description"), self.imports(top), self.definitions(top),
                            self.templates(top))

    def templates(self, top: Mapping) -> tuple[TemplateDecl, ...]:
        result = []
        section = self.mapping(top, "templates") or Mapping()
        for name, body in section.items():
            span = section.key_spans[name]
            if not self.identifier(str(name), span, "template"):
                continue
            if not isinstance(body, Mapping):
                self.report("PE403", _span(body, section, name), key=name, expected="mapping")
                continue
            self.keys(body, TEMPLATE_KEYS, ("rule",))
            params = self.typed_params(body)
            rule = self.mapping(body, "rule")
            if params is None or rule is None:
                continue
            result.append(TemplateDecl(str(name), params[0], params[1], rule, self.text(body, "description"), span))
        return tuple(result)

    def instance(self, item: Mapping) -> TemplateUse | None:
        self.keys(item, INSTANCE_KEYS, ("id", "template"))
        rule_id, template = self.text(item, "id"), self.text(item, "template")
        if rule_id is not None and not RULE_ID.fullmatch(rule_id):
            self.report("PE411", item["id"].span, id=rule_id)
        args = {}
        for name, scalar in (self.mapping(item, "args") or Mapping()).items():
            if isinstance(scalar, Scalar):
                args[str(name)] = scalar
            else:
                self.report("PE403", _span(scalar, item["args"], name), key=name, expected="expression")
        if rule_id is None or template is None:
            return None
        return TemplateUse(rule_id, template, args, item, item.span)

    def typed_params(self, body: Mapping) -> tuple[tuple[str, ...], tuple[Scalar, ...]] | None:
        """`params: {name: type, ...}` of a typed definition or a template, or None (reported)."""
        if "params" in body and not isinstance(body["params"], Mapping):
            self.report("PE403", _span(body["params"], body, "params"), key="params", expected="mapping name → type")
            return None
        params = self.mapping(body, "params") or Mapping()
        names, types = [], []
        for param, declared in params.items():
            if not self.identifier(str(param), params.key_spans[param], "parameter"):
                return None
            if not isinstance(declared, Scalar) or not isinstance(declared.value, str):
                self.report("PE403", _span(declared, params, param), key=param, expected="type")
                return None
            names.append(str(param))
            types.append(declared)
        return tuple(names), tuple(types)

    def imports(self, top: Mapping) -> tuple[ImportDecl, ...]:
        result = []
        for item in self.sequence(top, "imports"):
            if isinstance(item, Scalar) and isinstance(item.value, str) and item.value.strip():
                result.append(ImportDecl(item.value.strip(), item.span))
            else:
                self.report("PE403", getattr(item, "span", top.span), key="imports[]", expected="path")
        return tuple(result)

    def aliases(self, jurisdiction: Mapping) -> tuple[str, ...]:
        """`jurisdiction.aliases`: other spellings of the records' `city` that mark this jurisdiction."""
        result = []
        for item in self.sequence(jurisdiction, "aliases"):
            if isinstance(item, Scalar) and isinstance(item.value, str) and item.value.strip():
                result.append(item.value.strip())
            else:
                self.report("PE403", getattr(item, "span", jurisdiction.span), key="aliases[]", expected="text")
        return tuple(result)

    def identifier(self, name: str, span: Span, what: str) -> bool:
        if is_identifier(name):
            return True
        self.report("PE207", span, name=name, what=what)
        return False

    def parameters(self, top: Mapping) -> tuple[ParameterDecl, ...]:
        result = []
        for name, body in (self.mapping(top, "parameters") or Mapping()).items():
            if not self.identifier(str(name), top["parameters"].key_spans[name], "parameter"):
                continue
            if not isinstance(body, Mapping):
                self.report("PE403", _span(body, top["parameters"], name), key=name, expected="mapping")
                continue
            self.keys(body, PARAMETER_KEYS, ("value",))
            source = parameter_source(name, body, self.report)  # citations.py: effective: rejected, source: shape
            value = self.scalar(body, "value")
            if value is None:
                continue
            choices = body.get("choices")
            if choices is not None and not isinstance(choices, Sequence):
                self.report("PE403", _span(choices, body, "choices"), key="choices", expected="list")
                choices = None
            result.append(ParameterDecl(
                name, value, self.text(body, "type"), self.text(body, "unit"), self.text(body, "description"),
                self.text(body, "ambiguity"),
                tuple(str(c.value) for c in choices if isinstance(c, Scalar)) if choices is not None else None,
                top["parameters"].key_spans[name], source))
        return tuple(result)

    def definitions(self, top: Mapping) -> tuple[DefinitionDecl, ...]:
        result = []
        section = self.mapping(top, "definitions") or Mapping()
        for header, body in section.items():
            span = section.key_spans[header]
            name, params = _split_header(str(header))
            if name is None:
                self.report("PE403", span, key=header, expected="name or name(a, b)")
                continue
            if not all([self.identifier(name, span, "definition")] +
                       [self.identifier(p, span, "definition parameter") for p in params]):
                continue
            if isinstance(body, Mapping):
                typed = self.typed_definition(name, params, body, span)
                if typed is not None:
                    result.append(typed)
                continue
            if not isinstance(body, Scalar):
                self.report("PE403", _span(body, section, header), key=header, expected="expression")
                continue
            result.append(DefinitionDecl(name, params, body, span))
        return tuple(result)

    def typed_definition(self, name: str, header_params: tuple, body: Mapping, span: Span) -> DefinitionDecl | None:
        self.keys(body, DEFINITION_KEYS, ("type", "expr"))
        if header_params:
            self.report("PE403", span, key=name, expected="name (the parameters go under params:)")
            return None
        params = self.typed_params(body)
        if params is None:
            return None
        names, types = params
        result, expr = self.scalar(body, "type"), self.scalar(body, "expr")
        if result is None or expr is None:
            return None
        return DefinitionDecl(name, tuple(names), expr, span, tuple(types), result, self.text(body, "description"))

    def rule(self, item: Any, template: str | None = None) -> RuleDecl | None:
        """A rule, or (`template` = its name) a template's rule body: no id, citation or message."""
        if not isinstance(item, Mapping):
            self.report("PE403", getattr(item, "span", Span("?", 1, 1)), key="rules[]", expected="mapping")
            return None
        if template is not None:
            self.keys(item, TEMPLATE_RULE_KEYS, ("kind", "subject"))
        else:
            self.keys(item, RULE_KEYS, ("id", "kind", "subject"))
        rule_id = self.text(item, "id") if template is None else f"template.{template}"
        if rule_id is not None and not RULE_ID.fullmatch(rule_id):
            self.report("PE411", item["id"].span, id=rule_id)
        kind = self.choice(item, "kind", RULE_KINDS, False)
        strength = self.choice(item, "strength", STRENGTHS, False)
        subject = self.choice(item, "subject", SUBJECTS, False)
        per = self.text(item, "per")
        if per is not None and per not in PERIODS and per not in self.parameter_names:
            # (a parameter's name: the choice parameter chooses the period, resolved when elaborated)
            self.report("PE406", item["per"].span, key="per", value=per,
                        choices=", ".join(PERIODS) + (", " + "|".join(sorted(self.parameter_names))
                                                      if self.parameter_names else ""))
            per = None
        expressions = self.rule_expressions(item, rule_id or "?", kind, strength)
        values = {}
        for name, scalar in (self.mapping(item, "values") or Mapping()).items():
            if isinstance(scalar, Scalar):
                values[name] = scalar
            else:
                self.report("PE403", _span(scalar, item["values"], name), key=name, expected="expression")
        lets = {}
        for name, scalar in (self.mapping(item, "let") or Mapping()).items():
            if not self.identifier(str(name), item["let"].key_spans[name], "let"):
                continue
            if isinstance(scalar, Scalar):
                lets[str(name)] = scalar
            else:
                self.report("PE403", _span(scalar, item["let"], name), key=name, expected="expression")
        message = self.mapping(item, "message") or Mapping()
        if message:
            self.keys(message, ("zh", "en"))
        if rule_id is None or kind is None or subject is None:
            return None
        citation = self.citation(item, rule_id) if template is None else None
        return RuleDecl(rule_id, kind, strength, subject, per, expressions, values,
                        citation, self.text(message, "zh") if message else None,
                        self.text(message, "en") if message else None, self.text(item, "description"), item.span,
                        self.text(item, "concept"), lets, item["per"].span if per is not None else None)

    def rule_expressions(self, item: Mapping, rule_id: str, kind: str | None, strength: str | None) -> dict:
        expressions: dict = {}
        for key in EXPRESSION_KEYS:
            value = item.get(key)
            if value is None:
                continue
            if kind is not None and key not in KIND_TAKES[kind]:
                self.report("PE410", item.key_spans[key], kind=kind, problem=f"不接受 {key}",
                            problem_en=f"does not take {key}")
            if isinstance(value, Mapping) and key in NAMED_CONDITION_KEYS:
                expressions[key] = {name: c for name, c in value.items() if self._is_expression(c, value, name)}
            elif self._is_expression(value, item, key):
                expressions[key] = value
        if kind is not None:
            for key in KIND_NEEDS[kind]:
                if key not in item:
                    self.report("PE410", item.span, kind=kind, problem=f"缺少 {key}", problem_en=f"needs {key}")
            if rulekinds.RULE_KINDS[kind].needs_strength and strength is None and "strength" not in item:
                self.report("PE410", item.span, kind=kind, problem="缺少 strength", problem_en="needs strength")
        return expressions

    def _is_expression(self, value: Any, parent: Mapping, key: str) -> bool:
        if isinstance(value, Scalar):
            return True
        self.report("PE403", _span(value, parent, key), key=key, expected="expression")
        return False

    def citation(self, item: Mapping, rule_id: str) -> Citation | None:
        citation = self.mapping(item, "citation")
        if citation is None:
            self.report("PE405", item.span, id=rule_id)
            return None
        self.keys(citation, ("file", "section", "quote"))
        file, quote = self.text(citation, "file"), self.text(citation, "quote")
        if not file or not quote:
            self.report("PE405", citation.span, id=rule_id)
            return None
        return Citation(file, self.text(citation, "section"), quote)

    def not_encoded(self, item: Any) -> NotEncoded | None:
        if not isinstance(item, Mapping):
            self.report("PE403", getattr(item, "span", Span("?", 1, 1)), key="not_encoded[]", expected="mapping")
            return None
        self.keys(item, NOT_ENCODED_KEYS, ("id", "reason"))  # file/section/quote: the sentence (policyengine doc)
        entry_id, reason = self.text(item, "id"), self.text(item, "reason")
        return NotEncoded(entry_id, reason, item.span) if entry_id and reason else None

    def unique_ids(self, rules: tuple, not_encoded: tuple[NotEncoded, ...]) -> None:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                self.report("PE404", rule.span, id=rule.id)
            seen.add(rule.id)
        for entry in not_encoded:
            if entry.id in seen:
                self.report("PE409", entry.span, id=entry.id)
            seen.add(entry.id)


def read_rule(item: Mapping, diagnostics: list[Diagnostic], template: str | None = None,
              parameter_names: frozenset[str] = frozenset()) -> RuleDecl | None:
    """One rule mapping (a template instance completed with its template's keys, or a template's body)."""
    return _Reader(diagnostics, parameter_names).rule(item, template)


def _is_instance(item: Any) -> bool:
    return isinstance(item, Mapping) and "template" in item


def _span(value: Any, parent: Mapping, key: str) -> Span:
    return getattr(value, "span", None) or parent.key_spans.get(key) or parent.span


def _split_header(header: str) -> tuple[str | None, tuple[str, ...]]:
    """`name` or `name(a, b)` → ("name", ("a", "b"))."""
    header = header.strip()
    if "(" not in header:
        return (header, ()) if header else (None, ())
    name, _, rest = header.partition("(")
    if not rest.endswith(")") or not name.strip():
        return None, ()
    params = tuple(p.strip() for p in rest[:-1].split(","))
    if not all(params) and params != ("",):
        return None, ()
    return name.strip(), tuple(p for p in params if p)


def json_schema() -> dict:
    """A JSON Schema (draft 2020-12) of the policy file format, for editors; generated from the key
    tables above so that it cannot drift from what the loader accepts."""
    expression = {"type": ["string", "number", "boolean"], "description": "an expression (docs/language.md)"}
    conditions = {"oneOf": [expression, {"type": "object", "additionalProperties": expression}]}
    text = {"type": "string"}
    date = {"type": "string", "format": "date"}

    def closed(properties: dict, required: tuple = ()) -> dict:
        return {"type": "object", "properties": properties, "required": list(required),
                "additionalProperties": False}

    rule_properties = {"id": text, "kind": {"enum": list(RULE_KINDS)}, "strength": {"enum": list(STRENGTHS)},
                       "subject": {"enum": list(SUBJECTS)}, "per": text,
                       "values": {"type": "object", "additionalProperties": expression},
                       "let": {"type": "object", "additionalProperties": expression},
                       "citation": closed({"file": text, "section": text, "quote": text}, ("file", "quote")),
                       "message": closed({"zh": text, "en": text}), "description": text, "note": text,
                       "concept": text}
    rule_properties.update({k: conditions if k in NAMED_CONDITION_KEYS else expression for k in EXPRESSION_KEYS})
    parameter = closed({"value": expression, "type": text, "unit": text, "description": text, "ambiguity": text,
                        "choices": {"type": "array", "items": text},
                        "source": closed({"file": text, "section": text, "quote": text}, ("quote",))}, ("value",))
    definition = {"oneOf": [expression, closed({"params": {"type": "object", "additionalProperties": text},
                                                "type": text, "expr": expression, "description": text},
                                               ("type", "expr"))]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "policyengine policy file",
        **closed({
            "format": {"const": "policyengine/1"},
            "jurisdiction": closed({"id": text, "name": text, "aliases": {"type": "array", "items": text}},
                                   ("id", "name")),
            "title": text, "description": text,
            "source": closed({"file": text, "issued": date, "title": text}, ("file",)),
            "effective": closed({"from": date, "to": date}, ("from",)),
            "parameters": {"type": "object", "additionalProperties": parameter},
            "imports": {"type": "array", "items": text},
            "definitions": {"type": "object", "additionalProperties": definition},
            "rules": {"type": "array", "items": {"oneOf": [
                closed(rule_properties, ("id", "kind", "subject", "citation")),
                closed({"id": text, "template": text, "args": {"type": "object", "additionalProperties": expression},
                        "citation": rule_properties["citation"], "message": rule_properties["message"],
                        "description": text, "note": text, "strength": rule_properties["strength"],
                        "per": text, "concept": text}, ("id", "template", "citation"))]}},
            "not_encoded": {"type": "array", "items": closed({k: text for k in NOT_ENCODED_KEYS}, ("id", "reason"))},
        }, ("format", "jurisdiction", "title", "source", "rules")),
    }
