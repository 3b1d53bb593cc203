"""Elaboration: a read policy model → checked, compiled rules (the stage between the file and evaluation).

In order: the imported library files (transitively, each once), the parameters with the caller's
overrides, the definitions (typed ones checked once where they are defined and compiled once as
functions, callees first; untyped ones kept as macros), then every rule's expressions. Every problem
is a diagnostic; nothing here raises on bad input except an unusable override (PolicyError).
"""

from __future__ import annotations

import decimal
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import attrs

from policyengine import ir, parser, resources
from policyengine import typesys as t
from policyengine.checker import AGGREGATES, CheckFailed, Checker, Definition, Environment, Parameter, Signature
from policyengine import limits
from policyengine.compiler import compile_ir, function_name
from policyengine.rulegen import RuleProgram
from policyengine.compiler import error_location as compile_error_location
from policyengine.diagnostics import Diagnostic, PolicyError
from policyengine.evaluator import CompiledRule
from policyengine.rulekinds import SUBJECTS
from policyengine.functions import FUNCTIONS
from policyengine.policyfile import (NAMED_CONDITION_KEYS, PERIODS, DefinitionDecl, ImportDecl, LibraryModel,
                                     ParameterDecl, PolicyModel, RuleDecl, TemplateDecl, TemplateUse, read_library_file,
                                     read_rule)
from policyengine.recordschema import RecordSchema
from policyengine.evaluator import _unordered  # noqa: PLC2701 (the findings' own normal form)
from policyengine.report import ENGINE_VALUES, plain
from policyengine.runtime import DECIMAL_CONTEXT
from policyengine.source import Mapping as SourceMapping
from policyengine.source import Scalar, Span, YamlLimitError, read_policy_text
from policyengine import runtime

RESULT_TYPES = {"when": (t.BOOL,), "require": (t.BOOL,), "grant": (t.BOOL,), "exception": (t.BOOL,),
                "pays_when": (t.BOOL,), "due": (t.DATE,), "amount": (t.MONEY, t.NUMBER), "value": (),
                "values": ()}
MAX_LIBRARY_FILES = 64  # imports are bounded like everything else


@attrs.frozen
class Elaboration:
    """What the engine's facade needs to build a `Policy`."""

    parameters: Mapping[str, Parameter]
    rules: tuple[CompiledRule, ...]
    libraries: tuple[str, ...]  # the imported files, in load order
    decls: tuple[RuleDecl, ...] = ()  # every rule as declared, template instances expanded, in file order


def elaborate(model: PolicyModel | LibraryModel, schema: RecordSchema, diagnostics: list[Diagnostic],
              overrides: Mapping[str, Any] | None = None) -> Elaboration:
    return Elaborator(model, schema, diagnostics).run(overrides or {})


def reserved_names(schema: RecordSchema) -> frozenset[str]:
    """Names a parameter or definition may not take: they already mean something in every rule."""
    variables = {v for subject in SUBJECTS.values() for v in subject.variables}
    return frozenset({*variables, "period", "as_of", *schema.collections, *FUNCTIONS, *AGGREGATES, "has"})


@attrs.define
class _Def:
    """One definition during elaboration: its declaration, file, parsed body and checker object."""

    decl: DefinitionDecl
    file: str
    node: Any
    definition: Definition
    visible: frozenset = frozenset()  # the files whose definitions its body may name


class Elaborator:
    def __init__(self, model: PolicyModel | LibraryModel, schema: RecordSchema, diagnostics: list[Diagnostic]):
        self.model = model
        self.schema = schema
        self.diagnostics = diagnostics
        self.reserved = reserved_names(schema)
        self.functions: dict[str, Callable] = {}  # typed definition → compiled function
        self.used: set[str] = set()  # definition names mentioned by rules and other definitions
        self.rule_costs: dict[str, int] = {}  # rule id → the sum of its expressions' estimates

    def report(self, code: str, span: Span, **args: Any) -> None:
        self.diagnostics.append(Diagnostic(code, span, args))

    def failed(self) -> bool:
        return any(not d.is_warning for d in self.diagnostics)

    def run(self, overrides: Mapping[str, Any]) -> Elaboration:
        libraries = self.libraries()
        is_policy = isinstance(self.model, PolicyModel)
        parameters = self.parameters(overrides) if is_policy else {}
        self._parameters = parameters
        definitions = self.definitions(libraries, parameters)
        templates = self.templates(libraries)
        decls: list[RuleDecl] = []
        rules: list[CompiledRule] = []
        if is_policy:
            expanded = [(d, None) for d in self.model.rules]
            expanded += [x for x in (self.expand(use, templates) for use in self.model.instances) if x is not None]
            expanded.sort(key=lambda pair: (pair[0].span.line, pair[0].span.col))  # file order
            for decl, arg_types in expanded:
                decls.append(decl)
                compiled = self.rule(decl, definitions, parameters, arg_types=arg_types)
                if compiled is not None:
                    rules.append(compiled)
        self.warn_unused(definitions)
        return Elaboration(parameters, tuple(rules), tuple(lib.path for lib in libraries), tuple(decls))

    # templates --------------------------------------------------------------------------------
    def templates(self, libraries: list[LibraryModel]) -> dict[str, tuple[TemplateDecl, tuple[t.Type, ...]]]:
        """Every template of the libraries, each checked once where it is defined (its parameters
        bound to their declared types), used or not."""
        result: dict[str, tuple[TemplateDecl, tuple[t.Type, ...]]] = {}
        files = [self.model] if isinstance(self.model, LibraryModel) else []
        for library in [*libraries, *files]:
            for template in library.templates:
                if template.name in result:
                    self.report("PE206", template.span, name=template.name)
                    continue
                types = [self.type_of(scalar) for scalar in template.param_types]
                bad_names = [p for p in template.params if p in self.reserved]
                for name in bad_names:
                    self.report("PE207", template.span, name=name, what="template parameter")
                if any(tp is None for tp in types) or bad_names:
                    continue
                result[template.name] = (template, tuple(types))
                decl = read_rule(template.rule, self.diagnostics, template.name)
                if decl is not None:
                    self.check_template(library, template, decl, tuple(types))
        return result

    def check_template(self, library: LibraryModel, template: TemplateDecl, decl: RuleDecl, types) -> None:
        visible = {name: e.definition for name, e in self._entries.items()
                   if e.file in self._imports_of.get(library.path, frozenset()) | {library.path}}
        bound = {p: ir.Var(tp, template.span, f"{p}_arg") for p, tp in zip(template.params, types)}
        self.rule(decl, visible, {}, bound=bound, compile=False)

    def expand(self, use: TemplateUse, templates) -> tuple[RuleDecl, dict] | None:
        """A template instance → the rule it stands for: the template's keys, the instance's own
        keys over them, and the arguments as the first `let:` names (typed by the template)."""
        if use.template not in templates:
            self.report("PE418", use.item["template"].span, name=use.template, problem="未知模板",
                        problem_en="no such template")
            return None
        template, types = templates[use.template]
        problems = False
        for name in use.args:
            if name not in template.params:
                self.report("PE418", use.args[name].span, name=use.template, problem=f"没有参数 {name}",
                            problem_en=f"has no parameter {name}")
                problems = True
        for name in template.params:
            if name not in use.args:
                self.report("PE418", use.span, name=use.template, problem=f"缺少参数 {name}",
                            problem_en=f"needs argument {name}")
                problems = True
        if problems:
            return None
        merged = SourceMapping({k: v for k, v in template.rule.items()})
        merged.span, merged.key_spans = use.span, dict(template.rule.key_spans)
        for key, value in use.item.items():
            if key not in ("template", "args"):
                merged[key] = value
                merged.key_spans[key] = use.item.key_spans[key]
        decl = read_rule(merged, self.diagnostics, parameter_names=frozenset(p.name for p in self.model.parameters))
        if decl is None:
            return None
        lets = {name: use.args[name] for name in template.params}
        lets.update(decl.lets)
        return attrs.evolve(decl, lets=lets), dict(zip(template.params, types))

    # imports ----------------------------------------------------------------------------------
    def libraries(self) -> list[LibraryModel]:
        """Every library the model imports, directly or not, each once, imports before importers."""
        loaded: dict[str, LibraryModel | None] = {}
        order: list[LibraryModel] = []
        self._imports_of: dict[str, frozenset[str]] = {}

        def visit(importer: str, imports: tuple[ImportDecl, ...], chain: tuple[str, ...]) -> frozenset[str]:
            reached: set[str] = set()
            for decl in imports:
                path = self.resolve(importer, decl)
                if path is None:
                    continue
                if path in chain:  # reported; the files still see each other's definitions (no cascade)
                    self.report("PE413", decl.span, path=decl.path, problem="循环导入 / import cycle")
                    reached.add(path)
                    continue
                if path not in loaded:
                    if len(loaded) >= MAX_LIBRARY_FILES:
                        self.report("PE413", decl.span, path=decl.path,
                                    problem=f"导入文件超过 {MAX_LIBRARY_FILES} 个 / more than {MAX_LIBRARY_FILES} files")
                        continue
                    try:
                        library, problems = read_library_file(path, read_policy_text(path))
                    except YamlLimitError as error:
                        library, problems = None, [Diagnostic(code, span, args) for code, span, args in error.problems]
                    self.diagnostics.extend(problems)
                    loaded[path] = library
                    if library is not None:
                        self._imports_of[path] = visit(path, library.imports, chain + (path,))
                        order.append(library)
                if loaded[path] is not None:
                    reached |= {path} | self._imports_of.get(path, frozenset())
            return frozenset(reached)

        self._imports_of[self.model.path] = visit(self.model.path, self.model.imports, (self.model.path,))
        return order

    def resolve(self, importer: str, decl: ImportDecl) -> str | None:
        """An import path, relative to the importing file, else to the bundled policies/ folder."""
        relative = Path(decl.path)
        if relative.is_absolute() or relative.suffix not in (".yaml", ".yml"):
            self.report("PE413", decl.span, path=decl.path,
                        problem="须为相对路径的 .yaml 文件 / must be a relative path to a .yaml file")
            return None
        for base in (Path(importer).parent, resources.policies_dir()):
            candidate = base / relative
            if candidate.is_file():  # the path as the author would write it, for diagnostics
                return os.path.normpath(candidate)
        self.report("PE413", decl.span, path=decl.path, problem="文件不存在 / no such file")
        return None

    # parameters -------------------------------------------------------------------------------
    def parameters(self, overrides: Mapping[str, Any]) -> dict[str, Parameter]:
        result: dict[str, Parameter] = {}
        declared = {d.name for d in self.model.parameters}
        for name in overrides:
            if name not in declared:
                raise PolicyError([Diagnostic("PE201", Span(self.model.path, 1, 1), {"name": name})])
        for decl in self.model.parameters:
            if decl.name in self.reserved:
                self.report("PE207", decl.span, name=decl.name, what="parameter")
                continue
            parameter = self.parameter(decl)
            if parameter is None:
                continue
            if decl.name in overrides:
                parameter = self.override(decl, parameter, overrides[decl.name])
            result[decl.name] = parameter
        return result

    def parameter(self, decl: ParameterDecl) -> Parameter | None:
        value, value_type = self.constant(decl.value, decl.name)
        if value_type is None:
            return None
        parameter = Parameter(decl.name, value, value_type, decl.value.span)
        if not self.conforms(decl, parameter):
            return parameter  # reported; still in scope so that its uses do not cascade into PE201
        declared = self.declared_type(decl.type) if decl.type is not None else None
        return attrs.evolve(parameter, type=declared) if declared is not None else parameter  # `[]` → list<string>

    def constant(self, scalar: Scalar, name: str | None = None) -> tuple[Any, t.Type | None]:
        node = parser.parse(scalar, self.diagnostics)
        if node is None:
            return None, None
        env = Environment({}, {}, {}, {}, self.fields_of)
        checked = Checker(env, self.diagnostics).check(node)
        if checked is None:
            return None, None
        try:
            with decimal.localcontext(DECIMAL_CONTEXT):
                return compile_ir(checked, ())(), checked.type
        except Exception as error:  # noqa: BLE001 - `1/0`, date(2023, 2, 30), [1][3], min of nothing …
            from policyengine.evaluator import error_values

            failure = error_values(error)
            where = compile_error_location(error.__traceback__) or scalar.span
            self.report("PE309", where, name=scalar.text.strip()[:40] if name is None else name,
                        problem=f"{failure['error_code']} {failure['error']}")
            return None, checked.type  # typed, so that its uses are still checked (no PE201 cascade)

    def conforms(self, decl: ParameterDecl, parameter: Parameter) -> bool:
        problem = None
        declared = self.declared_type(decl.type) if decl.type is not None else parameter.type
        if declared is None or t.unify(declared, parameter.type) != declared:
            problem = f"type {decl.type} ≠ {parameter.type}"
        elif decl.choices is not None and parameter.value not in decl.choices:
            problem = f"{parameter.value!r} ∉ {list(decl.choices)}"
        if problem:
            self.report("PE408", decl.value.span, name=decl.name, problem=problem)
            return False
        return True

    def declared_type(self, text: str) -> t.Type | None:
        """The language type a declaration names (`number`, `money`, `membership`, `enum:role`,
        `list<string>` …), or None."""
        return declared_type(text, self.schema)

    def override(self, decl: ParameterDecl, base: Parameter, value: Any) -> Parameter:
        """A caller's value for a parameter: a Python value, or an expression string for a
        non-string parameter. It must have the declared type (and be one of its choices)."""
        bounds = limits.current()
        if (not value.is_finite() if isinstance(value, decimal.Decimal) else
                isinstance(value, float) and not math.isfinite(value)):  # NaN, ±Infinity
            self.report("PE408", decl.value.span, name=decl.name, problem=f"override {value!r}: not a finite number")
            raise PolicyError(self.diagnostics)
        if _beyond_digits(value, bounds):  # a caller's 10**5000 or Decimal("1e999999"): PE506, as if written
            self.report("PE506", decl.value.span, text=_bounded_repr(value), digits=bounds.max_number_digits,
                        exponent=bounds.max_number_exponent)
            raise PolicyError(self.diagnostics)
        if isinstance(value, str) and not t.is_stringlike(base.type):
            parsed, parsed_type = self.constant(parser.expression_scalar(value, f"<parameter {decl.name}>"), decl.name)
        else:
            parsed, parsed_type = python_constant(value, base.type)
        common = t.unify(base.type, parsed_type) if parsed_type is not None else None
        candidate = Parameter(decl.name, parsed, common or base.type, base.span)  # `[]` defaults take their override's type
        if common is None or not self.conforms(decl, candidate) or self.diagnostics:
            self.report("PE408", decl.value.span, name=decl.name, problem=f"override {_bounded_repr(value)}")
            raise PolicyError(self.diagnostics)
        return candidate

    # definitions ------------------------------------------------------------------------------
    def definitions(self, libraries: list[LibraryModel], parameters: Mapping[str, Parameter]) -> dict[str, Definition]:
        """Every definition visible to the model's rules. Typed ones are checked and compiled here."""
        entries: dict[str, _Def] = {}
        for file, decls in [*((lib.path, lib.definitions) for lib in libraries),
                            (self.model.path, self.model.definitions)]:
            visible = self._imports_of.get(file, frozenset()) | {file}
            for decl in decls:
                entry = self.declare(decl, file, visible, entries, parameters)
                if entry is not None:
                    entries[decl.name] = entry
        self._entries = entries
        for name, entry in entries.items():  # "used": named by a rule (see `function`) or another definition
            self.used |= _names(entry.node) - {name} - set(entry.decl.params)
        for entry in self.typed_order(entries):
            self.check_typed(entry, entries, parameters)
        return {name: entry.definition for name, entry in entries.items()}

    def declare(self, decl: DefinitionDecl, file: str, visible, entries, parameters) -> _Def | None:
        if decl.name in self.reserved:
            self.report("PE207", decl.span, name=decl.name, what="definition")
            return None
        if decl.name in entries or decl.name in parameters:
            self.report("PE206", decl.span, name=decl.name)
            return None
        node = parser.parse(decl.body, self.diagnostics)
        signature = None
        if decl.typed:
            types = [self.type_of(scalar) for scalar in (*decl.param_types, decl.result_type)]
            if any(tp is None for tp in types):
                return None
            signature = Signature(tuple(types[:-1]), types[-1])
        return _Def(decl, file, node, Definition(decl.name, decl.params, node, signature), frozenset(visible))

    def type_of(self, scalar: Scalar) -> t.Type | None:
        found = self.declared_type(str(scalar.value))
        if found is None:
            self.report("PE412", scalar.span, type=scalar.value)
        return found

    def typed_order(self, entries: dict[str, _Def]) -> list[_Def]:
        """Typed definitions, each after the typed definitions it calls (through macros too).
        A typed definition that reaches itself is reported (PE205) and left out."""
        direct = {name: _names(entry.node) - set(entry.decl.params) for name, entry in entries.items()}
        order: list[_Def] = []
        state: dict[str, str] = {}  # name → "active" | "done"
        height: dict[str, int] = {}  # the longest chain of definitions a definition starts
        reported: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            entry = entries[name]
            typed = entry.definition.signature is not None
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                if typed:
                    self.report("PE205", entry.decl.span, name=name)
                    entry.definition = attrs.evolve(entry.definition, body=None)
                return  # a macro's recursion is reported by the checker where it is expanded
            state[name] = "active"
            limit = limits.current().max_definition_depth
            if len(path) >= limit:  # never recurse deeper than the limit (PE509 below)
                height[name], state[name] = limit + 1, "done"
                return
            callees = [other for other in sorted(direct[name]) if other in entries]
            for other in callees:
                visit(other, path + (name,))
            height[name] = 1 + max((height.get(other, 0) for other in callees), default=0)
            if height[name] == limit + 1 or len(path) == 0 and height[name] > limit and not reported:
                deepest = max(callees, key=lambda other: height.get(other, 0))
                reported.append(name)
                self.report("PE509", entry.decl.span, limit=limit, chain=f"{name} → {deepest} → …")
            state[name] = "done"
            if typed:
                order.append(entry)

        for name in entries:
            visit(name, ())
        return order

    def check_typed(self, entry: _Def, entries: dict[str, _Def], parameters: Mapping[str, Parameter]) -> None:
        """Check a typed definition once, in its own file's scope; compile it as a function."""
        in_policy = entry.file == self.model.path
        visible = {name: e.definition for name, e in entries.items() if e.file in entry.visible}
        # a library definition reads only its arguments, other library definitions and the globals
        env = Environment({}, visible, parameters if in_policy else {}, self.globals(), self.fields_of)
        checker = Checker(env, self.diagnostics)
        before = len(self.diagnostics)
        body, idents = checker.check_definition(entry.definition, entry.decl.span)
        if body is None or len(self.diagnostics) > before or self.failed():
            return
        function = compile_ir(body, (*idents, "_g"), function_name("def", entry.decl.name), functions=self.functions)
        self.functions[entry.decl.name] = function
        if not idents and _constant(body):
            try:
                with decimal.localcontext(DECIMAL_CONTEXT):
                    entry.definition.signature.folded = (function(None),)  # folded: its uses become a constant
            except Exception:  # noqa: BLE001 - e.g. first([]) is absent, [1][3]: its uses call it and report it
                pass  # e.g. first([]) is absent: its uses call it and report that at evaluation

    def warn_unused(self, definitions: Mapping[str, Definition]) -> None:
        if not isinstance(self.model, PolicyModel):
            return  # a library's definitions are exported: used or not, they are not dead code
        for name, entry in self._entries.items():
            if entry.file == self.model.path and name not in self.used and entry.node is not None:
                self.report("PE208", entry.decl.span, name=name)
                if entry.definition.signature is None and not entry.decl.params:
                    self.check_unused_macro(entry, definitions)

    def check_unused_macro(self, entry: _Def, definitions: Mapping[str, Definition]) -> None:
        """An unused untyped definition without parameters is still checked: it must be valid in
        the scope of some rule subject (with or without a period); else the errors of the scope
        where it came closest are reported. (One with parameters has no types to check against:
        declare them, the typed form is checked where it is defined.)"""
        attempts = []
        for subject in SUBJECTS:
            for per in (None, "semester"):
                diagnostics: list[Diagnostic] = []
                variables = {v: t.record(v) for v in SUBJECTS[subject].variables}
                if per:
                    variables["period"] = t.PERIOD
                env = Environment(variables, definitions, self._parameters, self.globals(), self.fields_of)
                Checker(env, diagnostics).check(entry.node)
                if not diagnostics:
                    return
                attempts.append(diagnostics)
        self.diagnostics.extend(min(attempts, key=len))

    # rules ------------------------------------------------------------------------------------
    def fields_of(self, record_type: t.Type) -> Mapping[str, tuple[t.Type, bool]]:
        return fields_of(self.schema, record_type)

    def period(self, decl: RuleDecl, parameters: Mapping[str, Parameter]) -> str | None:
        """The rule's `per:`: a period kind, or the name of a choice parameter whose value is one
        (folded now: the compiled rule has a fixed period)."""
        if decl.per is None or decl.per in PERIODS:
            return decl.per
        span = decl.per_span or decl.span
        parameter = parameters.get(decl.per)
        if parameter is None:
            self.report("PE406", span, key="per", value=decl.per, choices=", ".join(PERIODS) + ", <parameter>")
            return None
        if parameter.value not in PERIODS:
            self.report("PE419", span, name=decl.per, value=repr(parameter.value), what="period (per)",
                        allowed=", ".join(PERIODS))
            return None
        return parameter.value

    def environment(self, decl: RuleDecl, definitions, parameters, per: str | None = None) -> Environment:
        variables = {v: t.record(v) for v in SUBJECTS[decl.subject].variables}  # variable = record kind
        if per:
            variables["period"] = t.PERIOD
        return Environment(variables, definitions, parameters, self.globals(), self.fields_of)

    def globals(self) -> dict[str, t.Type]:
        result: dict[str, t.Type] = {"as_of": t.DATE}
        for collection, kind in self.schema.collections.items():
            result[collection] = t.list_of(t.record(kind.name))
        return result

    def rule(self, decl: RuleDecl, definitions, parameters, *, arg_types: dict | None = None,
             bound: dict | None = None, compile: bool = True) -> CompiledRule | None:
        """Check (and compile) one rule. `arg_types`: a template instance's arguments, the first
        `let:` names, with their declared types; `bound`: a template's parameters, when it is
        checked on its own (nothing is compiled then)."""
        before = len(self.diagnostics)
        per = self.period(decl, parameters)
        env = self.environment(decl, definitions, parameters, per)
        env.lets.update(bound or {})
        checker = Checker(env, self.diagnostics)
        if decl.per is not None and decl.per not in PERIODS and decl.per in parameters:
            checker.parameters_used.add(decl.per)  # the parameter choosing the period is in force
        arguments = (*env.variables, "_g")
        self.lets(decl, env, checker, arg_types or {})
        if not compile:  # check every expression, compile none
            for key, scalar in decl.expressions.items():
                for s in (scalar.values() if isinstance(scalar, dict) else (scalar,)):
                    self.function(checker, s, key, arguments, decl.id, compile=False)
            for s in decl.values.values():
                self.function(checker, s, "values", arguments, decl.id, compile=False)
            self.warn_unused_lets(decl, env, checker)
            return None
        compiled: dict[str, Any] = {}
        checked: dict[str, Any] = {}  # the same expressions' IR, for the rule's generated function (rulegen.py)
        amount_type = None
        for key, scalar in decl.expressions.items():
            if isinstance(scalar, dict):
                made = [(name, self.function(checker, s, key, arguments, decl.id)) for name, s in scalar.items()]
                compiled[key] = tuple((name, function) for name, (function, _, _) in made)
                checked[key] = tuple((name, node) for name, (_, _, node) in made)
                continue
            function, result_type, node = self.function(checker, scalar, key, arguments, decl.id)
            named = key in NAMED_CONDITION_KEYS
            compiled[key] = ((_short(scalar.text), function),) if named else function
            checked[key] = ((_short(scalar.text), node),) if named else node
            if key == "amount":
                amount_type = result_type
        made_values = [(name, self.function(checker, s, "values", arguments, decl.id)) for name, s in decl.values.items()]
        values = tuple((name, function) for name, (function, _, _) in made_values)
        program = RuleProgram(
            variables=tuple(env.variables), when=checked.get("when", ()), require=checked.get("require", ()),
            grant=checked.get("grant", ()), values=tuple((name, node) for name, (_, _, node) in made_values),
            single={k: checked[k] for k in ("exception", "due", "amount", "pays_when", "value") if k in checked},
            functions=dict(self.functions))
        self.value_names(decl, checker)
        self.warn_unused_lets(decl, env, checker)
        self.check_cost(decl)
        if len(self.diagnostics) > before or decl.citation is None:
            return None
        return CompiledRule(
            id=decl.id, kind=decl.kind, strength=decl.strength, subject=decl.subject, per=per,
            when=compiled.get("when", ()), require=compiled.get("require", ()), grant=compiled.get("grant", ()),
            exception=compiled.get("exception"), due=compiled.get("due"), amount=compiled.get("amount"),
            amount_is_money=amount_type == t.MONEY, pays_when=compiled.get("pays_when"),
            value=compiled.get("value"), values=values,
            parameters=tuple((p, parameters[p].value) for p in sorted(checker.parameters_used)),
            reported_parameters=tuple((p, _unordered(plain(parameters[p].value))) for p in sorted(checker.parameters_used)),
            scans=tuple(sorted(checker.collections_used)),
            citation=decl.citation,
            message=decl.message_zh or decl.message_en, message_en=decl.message_en or decl.message_zh,
            concept=decl.concept, texts=_texts(decl), limits=limits.current(), program=program)

    def check_cost(self, decl: RuleDecl) -> None:
        """A rule whose static cost estimate (cost.py) is over the limit is refused, by name."""
        estimated, limit = self.rule_costs.get(decl.id, 0), limits.current().max_rule_cost
        if estimated > limit:
            self.report("PE508", decl.span, rule=decl.id, cost=f"{estimated:.3g}", limit=f"{limit:.3g}",
                        detail="")

    def lets(self, decl: RuleDecl, env: Environment, checker: Checker, arg_types: dict) -> None:
        """`let:` names, in order (each sees the ones before it), checked once in the rule's scope.
        A template's arguments come first and must have the template's declared types; they may
        shadow the policy's definitions and parameters (the template was checked without them)."""
        for name, scalar in decl.lets.items():
            clashes = (env.variables, env.lets) if name in arg_types else (
                env.variables, env.lets, env.definitions, env.parameters)
            if any(name in names for names in clashes):
                self.report("PE206", scalar.span, name=name)
                continue
            if name in self.reserved:
                self.report("PE207", scalar.span, name=name, what="let")
                continue
            node = parser.parse(scalar, self.diagnostics)
            self.used |= _names(node)
            checked = checker.check(node) if node is not None else None
            if checked is not None and name in arg_types and not self.argument(checker, node, checked,
                                                                                arg_types[name], decl, name):
                checked = None
            if name in arg_types:
                checker.lets_used.add(name)  # an unused parameter is the template's business, not the instance's
            env.lets[name] = checked

    def argument(self, checker: Checker, node, checked: ir.IR, expected: t.Type, decl: RuleDecl, name: str) -> bool:
        if not t.assignable(expected, checked.type):
            self.report("PE305", node.span, name=name, expected=expected, actual=checked.type)
            return False
        try:
            checker.enum_literals(node, expected, checked)
        except CheckFailed:
            return False
        return True

    def warn_unused_lets(self, decl: RuleDecl, env: Environment, checker: Checker) -> None:
        for name, scalar in decl.lets.items():
            if env.lets.get(name) is not None and name not in checker.lets_used:
                self.report("PE209", scalar.span, name=name)

    def value_names(self, decl: RuleDecl, checker: Checker) -> None:
        """An author's `values` never take a name the engine reports (its facts, the parameters in force)."""
        for name, scalar in decl.values.items():
            if name in ENGINE_VALUES or name in checker.parameters_used:
                self.report("PE417", _value_span(decl, name), name=name,
                            reserved=", ".join(sorted(ENGINE_VALUES)) + (" + " + name if name in checker.parameters_used else ""))

    def function(self, checker: Checker, scalar: Scalar, key: str, arguments,
                 rule_id: str, compile: bool = True) -> tuple[Callable | None, t.Type | None, ir.IR | None]:
        """Parse, check and compile one expression of a rule: (function, result type, checked IR), or Nones."""
        node = parser.parse(scalar, self.diagnostics)
        self.used |= _names(node)
        checked = checker.expect(node, RESULT_TYPES[key], key) if node is not None else None
        if checked is None or not compile or self.failed():  # with errors the policy does not load
            return None, checked.type if checked is not None else None, None
        function = compile_ir(checked, arguments, function_name(rule_id, key), functions=self.functions)
        self.rule_costs[rule_id] = self.rule_costs.get(rule_id, 0) + function.__policyengine_cost__
        return function, checked.type, checked


# ------------------------------------------------------------------------------------------ helpers


def fields_of(schema: RecordSchema, record_type: t.Type) -> Mapping[str, tuple[t.Type, bool]]:
    kind = schema.kinds.get(record_type.name)
    if kind is None:
        return {}
    fields = {name: (f.type, f.optional) for name, f in kind.fields.items()}
    fields.update({name: (nav.type, nav.optional) for name, nav in kind.navigations.items()})
    return fields


def declared_type(text: str, schema: RecordSchema) -> t.Type | None:
    """The language type a declaration names, or None: a scalar type, a record kind, `enum:NAME`,
    `list<T>`, `map<K,V>`."""
    from policyengine.recordschema import SchemaError, language_type, parse_spec

    text = text.strip()
    if text in t.SCALARS:
        return t.SCALARS[text]
    try:
        return language_type(parse_spec(text, set(schema.kinds), set(schema.enums)), schema.enums)
    except (SchemaError, KeyError, ValueError):
        return None


def python_constant(value: Any, expected: t.Type) -> tuple[Any, t.Type | None]:
    """A Python override value in the runtime representation, with its type (None: unusable)."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, (list, tuple)):
        element = expected.element if isinstance(expected, t.ListType) else t.ANY
        items = [python_constant(v, element) for v in value]
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
        return value, python_type(value)
    except TypeError:
        return None, None


def python_type(value: Any) -> t.Type:
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, bool):
        return t.BOOL
    if isinstance(value, (int, Decimal)):
        return t.NUMBER
    if isinstance(value, str):
        return t.STRING
    if isinstance(value, dt.date):
        return t.DATE
    raise TypeError(f"unsupported constant {value!r}")


def _beyond_digits(value: Any, bounds: limits.PolicyLimits) -> bool:
    """Whether a number given from Python has more digits or a larger exponent than a policy may write."""
    if isinstance(value, (list, tuple)):
        return any(_beyond_digits(item, bounds) for item in value)
    if isinstance(value, dict):
        return any(_beyond_digits(item, bounds) for item in value.values())
    if type(value) is int:
        return value.bit_length() > 3.33 * (bounds.max_number_digits + bounds.max_number_exponent)
    if isinstance(value, decimal.Decimal) and value.is_finite() and not value.is_zero():
        return len(value.as_tuple().digits) > bounds.max_number_digits or abs(value.adjusted()) > bounds.max_number_exponent
    return False


def _bounded_repr(value: Any) -> str:
    if type(value) is int and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    text = repr(value) if not isinstance(value, (list, tuple, dict)) or len(value) < 50 else f"<{type(value).__name__} of {len(value)} items>"
    return text if len(text) <= 80 else text[:77] + "..."


def _value_span(decl: RuleDecl, name: str) -> Span:
    return decl.values[name].span


def _short(text: str) -> str:
    """A condition's name in `values.failed`: its text on one line, never cut short (the table clips)."""
    return " ".join(text.split())


def _texts(decl: RuleDecl) -> tuple[tuple[str, str | None, str], ...]:
    """(key, condition name or None, expression text on one line) of each expression, for explanations."""
    result = []
    for key, scalar in decl.expressions.items():
        for name, one in (scalar.items() if isinstance(scalar, dict) else [(None, scalar)]):
            result.append((key, name, _short(one.text)))
    return tuple(result)


def _names(node: Any) -> set[str]:
    """The names and called functions an expression mentions (for the definitions' dependency order)."""
    from policyengine import nodes as n

    found: set[str] = set()
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, n.Name):
            found.add(current.name)
        elif isinstance(current, n.Call):
            found.add(current.function)
        stack.extend(n.children(current))
    return found


def _walk_ir(node: ir.IR) -> Iterator[ir.IR]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for field in attrs.fields(type(current)):
            value = getattr(current, field.name)
            for child in value if isinstance(value, tuple) else (value,):
                if isinstance(child, tuple):
                    child = child[1]
                if isinstance(child, ir.IR):
                    stack.append(child)


def _constant(body: ir.IR) -> bool:
    """Whether a body reads nothing but constants (no variable, global or definition call)."""
    return not any(isinstance(x, (ir.Var, ir.Global, ir.DefCall)) for x in _walk_ir(body))
