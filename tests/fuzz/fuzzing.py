"""Fuzzing (issue #20 item 3): hostile inputs generated, each run through the engine's front doors.

Three campaigns, each seeded and bounded in time:

- `policy`: policy files generated from the policy JSON schema (src/policyengine/schema/
  policy.schema.json: keys, enums, which values are expressions) whose expressions are derived at
  random from the Lark grammar (grammar/policy.lark: its rules and terminals, read by Lark itself),
  and mutants of a small policy (an expression replaced by a generated one, or bytes flipped);
  each is checked and, when it loads, evaluated, through `policyengine.cli.main` as a user would.
- `records`: mutants of the example records (examples/*.yaml): fields deleted, retyped, made huge or
  deep, records duplicated, references broken, text bytes flipped; written as YAML or JSON, loaded
  and evaluated with the example's policy, through `cli.main`.
- `api`: `compile_expression` on grammar-derived expressions over an ad-hoc record type, each
  compiled function called on a record.

An outcome is fine when it is a located error (PE diagnostics, RE record errors, `error` findings,
the documented exceptions of the API). Anything else is a *traceback* (the CLI's exit status 70, or
an undocumented exception from the API). An input that takes more than 5 s or more than 512 MB is a
*hang*: the campaign runs each input under a 5 s alarm and, as its own process, under an address-
space limit 512 MB above its start (a MemoryError, or an EV110 finding, counts as a hang).

    python tests/fuzz/fuzzing.py --seconds 60 --seed 1            # all three, 60 s each
    python tests/fuzz/fuzzing.py --campaign api --seconds 10 --json

Inputs that fail are written to --keep (default: a temporary folder) and listed in the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import lark  # noqa: E402
import yaml  # noqa: E402

from policyengine import cli, compile_expression, resources, runtime  # noqa: E402
from policyengine.diagnostics import PolicyError  # noqa: E402
from policyengine.functions import FUNCTIONS  # noqa: E402
from policyengine.recordschema import load_record_schema  # noqa: E402

HANG_SECONDS = 5
HANG_BYTES = 512 << 20
SYNTAX_CODES = ("PE100", "PE101", "PE102", "PE103", "PE104", "PE105", "PE501", "PE502", "PE503", "PE504",
                "PE505", "PE506", "PE507")  # a file that got none of these got past parsing


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` in the engine hides it."""


# ------------------------------------------------------------------------------------- the grammar


class GrammarFuzzer:
    """Random expressions derived from the Lark grammar: its rules, by origin, and its terminals."""

    def __init__(self, rng: random.Random, names: Callable[[], list[str]]):
        parser = lark.Lark(resources.grammar_text(), parser="lalr", maybe_placeholders=False)
        self.rng = rng
        self.names = names
        self.rules: dict[str, list[list[Any]]] = {}
        for rule in parser.rules:
            self.rules.setdefault(rule.origin.name, []).append(list(rule.expansion))
        self.terminals = {t.name: t.pattern for t in parser.terminals}
        self.height = self._heights()

    def _heights(self) -> dict[str, int]:
        """The fewest levels a nonterminal needs to reach terminals only (to stop at the depth bound)."""
        height = {name: 10 ** 6 for name in self.rules}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                best = min(1 + max([height.get(s.name, 0) for s in e if not s.is_term] or [0]) for e in expansions)
                if best < height[name]:
                    height[name], changed = best, True
        return height

    def expression(self, max_depth: int = 9) -> str:
        return " ".join(self._expand("start", 0, max_depth))

    def _expand(self, symbol: str, depth: int, max_depth: int) -> Iterator[str]:
        expansions = self.rules[symbol]
        if depth >= max_depth:
            low = min(self._cost(e) for e in expansions)
            expansions = [e for e in expansions if self._cost(e) == low]
        for part in self.rng.choice(expansions):
            if part.is_term:
                yield self.terminal(part.name)
            else:
                yield from self._expand(part.name, depth + 1, max_depth)

    def _cost(self, expansion: list) -> int:
        return max([self.height.get(s.name, 0) for s in expansion if not s.is_term] or [0])

    def terminal(self, name: str) -> str:
        pattern = self.terminals[name]
        if pattern.type == "str":
            return pattern.value
        sampler = TERMINALS.get(name)
        if sampler is not None:
            return sampler(self)
        alternatives = re.fullmatch(r"\(\?:(.*)\)", pattern.value)  # "(?:==|!=|<=)": one of them
        return re.sub(r"\\(.)", r"\1", self.rng.choice(alternatives.group(1).split("|"))) if alternatives else "x"


def _name(fuzzer: GrammarFuzzer) -> str:
    if fuzzer.rng.random() < 0.05:
        return fuzzer.rng.choice(["学校", "x" * 70, "_", "import", "__class__", "a1", "None", "lambda"])
    return fuzzer.rng.choice(fuzzer.names())


TERMINALS: dict[str, Callable[[GrammarFuzzer], str]] = {
    "NAME": _name,
    "NUMBER": lambda f: f.rng.choice(["0", "1", "2", "3", "10", "0.5", "100", "12345678901234567890", "9" * 45,
                                      "0.000001", "1.25", str(f.rng.randint(0, 10 ** 6))]),
    "STRING": lambda f: f.rng.choice(["'lead'", "'partner'", "'融合型'", "'school'", "''", "'\\u0041'", "'a\\n'",
                                      "\"x\"", "'rural'", "'regular_meeting'", "'%s'" % ("字" * 30)]),
    "DATE": lambda f: f.rng.choice(["2022-03-01", "2021-09-01", "2023-02-30", "2020-02-29", "0000-01-01",
                                    "9999-12-31", "2022-13-01"]),
    "DURATION_UNIT": lambda f: f.rng.choice(["years", "year", "months", "month", "days", "day"]),
    "UNIT_YUAN": lambda f: "元",
    "UNIT_WAN": lambda f: f.rng.choice(["万元", "万"]),
}


def vocabulary() -> list[str]:
    """Names an expression may mean: subject variables, record fields, functions, globals."""
    schema = load_record_schema()
    fields = sorted({field for kind in schema.kinds.values() for field in kind.fields})
    return sorted(set(fields) | set(FUNCTIONS) | set(schema.collections) | set(schema.kinds)
                  | {"as_of", "period", "x", "y", "m", "c", "u", "p", "n", "d0", "d1", "f", "p0", "p1"})


# --------------------------------------------------------------------------- the policy JSON schema


class SchemaFuzzer:
    """Policy documents generated from the policy JSON schema; its expression slots from the grammar."""

    def __init__(self, rng: random.Random, grammar: GrammarFuzzer):
        self.rng = rng
        self.grammar = grammar
        self.schema = json.loads((ROOT / "src" / "policyengine" / "schema" / "policy.schema.json")
                                 .read_text(encoding="utf-8"))

    def document(self) -> dict:
        doc = self.value(self.schema, "policy")
        doc["format"] = "policyengine/1"  # mostly valid headers, so that the rest is reached
        doc.setdefault("jurisdiction", {"id": "t", "name": "测试市"})
        if isinstance(doc["jurisdiction"], dict):
            doc["jurisdiction"]["id"] = "t"
        for i, rule in enumerate(doc.get("rules") or []):
            if isinstance(rule, dict) and self.rng.random() < 0.9:
                rule["id"] = f"t.g.r{i}"
        return doc

    def value(self, schema: dict, key: str, depth: int = 0) -> Any:
        rng = self.rng
        if "oneOf" in schema:
            return self.value(rng.choice(schema["oneOf"]), key, depth)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if "an expression" in schema.get("description", ""):
            return self.grammar.expression(rng.choice([3, 5, 7, 9, 12]))
        kind = schema.get("type")
        kind = rng.choice(kind) if isinstance(kind, list) else kind
        if kind == "object":
            return self.mapping(schema, key, depth)
        if kind == "array":
            items = schema.get("items", {"type": "string"})
            return [self.value(items, key, depth + 1) for _ in range(rng.randint(0, 3 if depth < 2 else 1))]
        if kind == "number":
            return rng.choice([0, 1, 2.5, 10 ** 50])
        if kind == "boolean":
            return rng.random() < 0.5
        return self.text(key)

    def mapping(self, schema: dict, key: str, depth: int) -> dict:
        rng = self.rng
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        chosen = [name for name in properties if name in required or rng.random() < 0.5]
        result = {name: self.value(properties[name], name, depth + 1) for name in chosen}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and depth < 3:
            for _ in range(rng.randint(0, 3)):
                result[rng.choice(["p0", "p1", "d0", "d1", "f(x)", "n", "m", "规则"])] = self.value(extra, key, depth + 1)
        return result

    def text(self, key: str) -> str:
        rng = self.rng
        if key in ("file",):
            return "t.txt"
        if key in ("from", "to", "issued"):
            return rng.choice(["2021-09-01", "2023-12-31", "2020-02-30", "soon"])
        if key == "type":
            return rng.choice(["number", "money", "bool", "string", "date", "list<number>", "map<string, number>",
                               "enum:role", "community", "nonsense<"])
        if key == "per":
            return rng.choice(["semester", "school_year", "calendar_year", "week"])
        return rng.choice(["引文", "x", "", "a: b", "*x", "规则.一"])


SMALL_POLICY = ROOT / "tests" / "data" / "evaluation" / "policy.yaml"
SMALL_RECORDS = ROOT / "tests" / "data" / "evaluation" / "records.yaml"


def mutate_text(rng: random.Random, text: str) -> str:
    """A byte-level mutant: a few characters deleted, duplicated or replaced by YAML/expression specials."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if not chars:
            break
        i = rng.randrange(len(chars))
        action = rng.random()
        if action < 0.3:
            del chars[i]
        elif action < 0.6:
            chars.insert(i, rng.choice(["[", "]", "{", "}", ":", "&a ", "*a", "!!", "'", '"', "\\", "\t", "#",
                                        "-", "9" * 50, "(", ")", "（", "１", "\x00", "\u3000"]))
        else:
            chars[i: i + rng.randint(1, 20)] = chars[i: i + rng.randint(1, 20)][::-1]
    return "".join(chars)


PERTURBATIONS = ((r"\b\d+(\.\d+)?\b", lambda rng: rng.choice(["0", "1", "-1", "0.0001", "9" * 40, "2", "0.5"])),
                 (r"<=|>=|==|!=|<|>", lambda rng: rng.choice(["<=", ">=", "==", "!=", "<", ">"])),
                 (r"\band\b|\bor\b", lambda rng: rng.choice(["and", "or"])),
                 (r"\b(count|sum|min|max|first|any|all)\(", lambda rng: rng.choice(["count(", "sum(", "min(", "max(",
                                                                                     "first(", "any(", "all("])),
                 (r" [-+*/] ", lambda rng: rng.choice([" + ", " - ", " * ", " / "])),
                 (r"\d{4}-\d{2}-\d{2}", lambda rng: rng.choice(["2023-02-30", "2022-02-28", "0001-01-01", "9999-12-31"])))


def perturb(rng: random.Random, text: str) -> str:
    """The small policy with a few tokens of its expressions changed (numbers, operators,
    aggregates, dates): mostly still well typed, so evaluation meets hostile values."""
    for _ in range(rng.randint(1, 3)):
        pattern, replacement = rng.choice(PERTURBATIONS)
        quoted = [m for m in re.finditer(r'"([^"\n]{2,})"', text) if re.search(pattern, m.group(1))]
        if not quoted:
            continue
        target = rng.choice(quoted)
        inner = target.group(1)
        hits = list(re.finditer(pattern, inner))
        hit = rng.choice(hits)
        inner = inner[:hit.start()] + replacement(rng) + inner[hit.end():]
        text = text[:target.start(1)] + inner + text[target.end(1):]
    return text


def mutate_expression(rng: random.Random, grammar: GrammarFuzzer, text: str) -> str:
    """The small policy with one quoted expression replaced by a generated one."""
    quoted = list(re.finditer(r'"([^"\n]{2,})"', text))
    if not quoted:
        return text
    target = rng.choice(quoted)
    replacement = grammar.expression(rng.choice([3, 6, 9])).replace('"', "'")
    return text[:target.start(1)] + replacement + text[target.end(1):]


# --------------------------------------------------------------------------------------- records


def mutate_records(rng: random.Random, data: Any) -> Any:
    """The example records with a few structural mutations."""
    data = copy.deepcopy(data)
    for _ in range(rng.choice([1, 1, 1, 2, 4])):
        parent, key = _random_slot(rng, data)
        if parent is None:
            continue
        action = rng.random()
        if action < 0.5:  # a value of the same kind: the records stay valid and get evaluated
            parent[key] = _similar(rng, parent[key])
            continue
        action = (action - 0.5) * 2
        if action < 0.12 and isinstance(parent, dict):
            parent.pop(key, None)
        elif action < 0.24 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # a duplicate record (or unit listed twice)
        elif action < 0.34 and isinstance(parent, dict):
            parent[rng.choice(["bogus", "unit_id", "community_id", "joined_on", "batch"])] = _hostile(rng)
        else:
            parent[key] = _hostile(rng)
    return data


def _random_slot(rng: random.Random, data: Any) -> tuple[Any, Any]:
    node, parent, key = data, None, None
    for _ in range(rng.randint(1, 6)):
        if isinstance(node, dict) and node:
            parent, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            parent, key = node, rng.randrange(len(node))
        else:
            break
        node = parent[key]
    return parent, key


def _similar(rng: random.Random, value: Any) -> Any:
    import datetime as dt

    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([0, 1, value + 1, value * 1000, -value, 10 ** 39])
    if isinstance(value, float):
        return rng.choice([0.0, 1e-30, value * 3, 123456789.123456789])
    if isinstance(value, dt.date):
        return rng.choice([dt.date(2020, 2, 29), dt.date(1900, 1, 1), dt.date(2099, 12, 31), value + dt.timedelta(days=400)])
    if isinstance(value, list):
        return value[:rng.randint(0, len(value))] if value else value
    return value


def _hostile(rng: random.Random) -> Any:
    deep: Any = 1
    for _ in range(rng.choice([10, 70, 200])):
        deep = [deep]
    return rng.choice([None, "", "x" * 1000, 10 ** 60, -1, 0, 2.5, "2023-02-30", "9" * 5000, True, [], {}, deep,
                       {"ref": "nowhere"}, "u-01", "c-02", "1e999999999", float("inf"), "融合型", ["lead", 3],
                       {"a": {"b": {"c": [1, 2]}}}])


def _dump(rng: random.Random, data: Any, directory: Path) -> Path:
    if rng.random() < 0.5:
        path = directory / "records.json"
        path.write_text(json.dumps(data, ensure_ascii=False, default=str, allow_nan=True), encoding="utf-8")
    else:
        path = directory / "records.yaml"
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path.write_text(mutate_text(rng, text) if rng.random() < 0.2 else text, encoding="utf-8")
    return path


def example_sets() -> list[tuple[str, Path]]:
    """(policy name, example file) for each example whose city has a bundled policy."""
    bundled = set(resources.bundled_policy_names())
    pairs = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        city = path.stem.split("-")[0]
        if city in bundled:
            pairs.append((city, path))
    return pairs


# ------------------------------------------------------------------------------------------ api

API_FIELDS = {"z": "number", "z_prev": "number?", "m": "money", "d": "date", "s": "string",
              "xs": "list<number>", "ms": "list<money>", "names": "list<string>", "w": "map<string,number>",
              "flag": "bool"}
API_RECORD = {"z": Decimal("1.5"), "z_prev": None, "m": Decimal("100.00"), "d": __import__("datetime").date(2022, 9, 1),
              "s": "融合型教共体", "xs": (3, 1, 4, 1, 5), "ms": (Decimal("0.10"), Decimal("0.20")),
              "names": ("甲", "乙", "甲"), "w": {"a": 1, "b": 3}, "flag": True}
API_NAMES = sorted(set(FUNCTIONS) | {"r", "x", "y", "as_of"})


class TypedFuzzer:
    """Well-typed expressions over the API's record (mostly): they compile, so their calls meet
    hostile values (zero divisors, impossible dates, out-of-range indexes, huge products)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def of(self, kind: str, depth: int = 0) -> str:
        choices = self.TABLE[kind]
        if depth > 4:
            choices = choices[:1]  # the first is a leaf
        return self.rng.choice(choices)(self, depth + 1)

    def _n(self, depth: int) -> str:
        return self.of("number", depth)

    def _b(self, depth: int) -> str:
        return self.of("bool", depth)

    TABLE: dict[str, list[Callable[["TypedFuzzer", int], str]]] = {
        "number": [
            lambda f, d: f.rng.choice(["r.z", "r.z_prev", "0", "1", "2", "3", "0.5", "99999999999999999999", "-1"]),
            lambda f, d: "len(r.xs)",
            lambda f, d: f.rng.choice(["min(r.xs)", "max(r.xs)", "count(r.names)", "len(r.s)"]),
            lambda f, d: f"({f._n(d)} {f.rng.choice(['+', '-', '*', '/'])} {f._n(d)})",
            lambda f, d: f"count(x for x in r.xs where {f.of('bool_x', d)})",
            lambda f, d: f"sum(x * {f._n(d)} for x in r.xs)",
            lambda f, d: f"{f.rng.choice(['min', 'max', 'first'])}(x for x in r.xs where {f.of('bool_x', d)})",
            lambda f, d: f"round({f._n(d)}, {f.rng.choice(['0', '2', '-1', '30', 'r.z'])}, half_up)",
            lambda f, d: f"if {f._b(d)} then {f._n(d)} else {f._n(d)}",
            lambda f, d: f"r.xs[{f._n(d)}]",
            lambda f, d: f"r.w[{f.rng.choice(['a', 'b', 'c'])!r}]",
            lambda f, d: f"{f.rng.choice(['ceil', 'floor', 'abs'])}({f._n(d)})",
            lambda f, d: f"years_between({f.of('date', d)}, {f.of('date', d)})",
        ],
        "bool_x": [
            lambda f, d: f"x {f.rng.choice(['>', '<', '==', '!='])} {f.rng.choice(['1', 'r.z', '0'])}",
            lambda f, d: f"x / {f._n(d)} > 1",
            lambda f, d: f"x in r.xs",
        ],
        "bool": [
            lambda f, d: f.rng.choice(["r.flag", "true", "false", "has(r.z_prev)"]),
            lambda f, d: f"{f._n(d)} {f.rng.choice(['>', '<', '>=', '<=', '==', '!='])} {f._n(d)}",
            lambda f, d: f"'甲' in r.names",
            lambda f, d: f"({f._b(d)} {f.rng.choice(['and', 'or'])} {f._b(d)})",
            lambda f, d: f"not {f._b(d)}",
            lambda f, d: f"all(x > {f._n(d)} for x in r.xs)",
            lambda f, d: f"{f._n(d)} between {f._n(d)} and {f._n(d)}",
            lambda f, d: f"{f.of('date', d)} < {f.of('date', d)}",
            lambda f, d: f"contains({f.of('string', d)}, '教')",
        ],
        "date": [
            lambda f, d: f.rng.choice(["r.d", "2022-09-01", "2020-02-29"]),
            lambda f, d: f"date({f._n(d)}, {f._n(d)}, {f._n(d)})",
            lambda f, d: f"r.d + {f.rng.choice(['1', '3', '10000'])} {f.rng.choice(['years', 'months', 'days'])}",
        ],
        "string": [
            lambda f, d: f.rng.choice(["r.s", "'x'", "''"]),
            lambda f, d: f"concat([{f.of('string', d)}, {f.of('string', d)}])",
            lambda f, d: f"replace({f.of('string', d)}, {f.rng.choice(['', 'x', '教'])!r}, {f.of('string', d)})",
            lambda f, d: f"({f.of('string', d)} + {f.of('string', d)})",
        ],
        "money": [
            lambda f, d: f.rng.choice(["r.m", "100元", "1.5万元", "0.01元"]),
            lambda f, d: f"({f.of('money', d)} * {f._n(d)})",
            lambda f, d: f"sum(m for m in r.ms)",
            lambda f, d: f"round({f.of('money', d)} / {f._n(d)}, 2, half_up)",
        ],
    }


# ------------------------------------------------------------------------------------- campaigns


class Campaign:
    def __init__(self, name: str, seed: int, seconds: float, keep: Path):
        self.name, self.rng, self.seconds, self.keep = name, random.Random(f"{name}:{seed}"), seconds, keep
        self.tried = self.parsed = self.evaluated = 0
        self.tracebacks: list[str] = []
        self.hangs: list[str] = []

    def summary(self) -> dict:
        return {"campaign": self.name, "inputs": self.tried, "past_parsing": self.parsed,
                "share_past_parsing": round(self.parsed / self.tried, 3) if self.tried else None,
                "evaluated": self.evaluated, "tracebacks": len(self.tracebacks), "hangs": len(self.hangs),
                "failing_inputs": self.tracebacks + self.hangs}

    def save(self, kind: str, content: str, suffix: str) -> str:
        self.keep.mkdir(parents=True, exist_ok=True)
        path = self.keep / f"{self.name}-{kind}-{self.tried}{suffix}"
        path.write_text(content, encoding="utf-8", errors="replace")
        return str(path)

    def run(self, one: Callable[[], None]) -> None:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            self.tried += 1
            started = time.monotonic()
            try:
                with _alarm(HANG_SECONDS):
                    one()
            except (Hang, MemoryError):
                self.hangs.append(self.current_saved())
            if time.monotonic() - started > HANG_SECONDS:
                self.hangs.append(self.current_saved())

    def current_saved(self) -> str:
        return getattr(self, "_current", "?")


@contextlib.contextmanager
def _alarm(seconds: int):
    def ring(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cli(*args: str) -> tuple[int, str]:
    """`policyengine ARGS` in this process: (exit status, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(["--lang", "en", *args])
        except SystemExit as exit_:  # argparse
            status = exit_.code if isinstance(exit_.code, int) else 2
    return status, err.getvalue() + out.getvalue()


def _memory_hang(output: str) -> bool:
    return '"error_code":"EV110"' in output.replace(" ", "") or "out of memory" in output


def policy_campaign(seed: int, seconds: float, keep: Path, work: Path) -> Campaign:
    campaign = Campaign("policy", seed, seconds, keep)
    rng = campaign.rng
    names = vocabulary()
    grammar = GrammarFuzzer(rng, lambda: names)
    schema = SchemaFuzzer(rng, grammar)
    small = SMALL_POLICY.read_text(encoding="utf-8")
    (work / "eval.txt").write_text("", encoding="utf-8")

    def one() -> None:
        roll = rng.random()
        if roll < 0.35:
            text = yaml.safe_dump(schema.document(), allow_unicode=True, sort_keys=False)
        elif roll < 0.6:
            text = mutate_expression(rng, grammar, small)
        elif roll < 0.9:
            text = perturb(rng, small)
        else:
            text = mutate_text(rng, small)
        path = work / f"p{campaign.tried % 7}.yaml"  # a new name often: the engine caches by path and mtime
        path.write_text(text, encoding="utf-8")
        campaign._current = str(path)
        status, output = _cli("check", "--format", "json", str(path))
        if status == 70:
            campaign.tracebacks.append(campaign.save("traceback", text + "\n# " + output[:2000].replace("\n", "\n# "), ".yaml"))
            return
        codes = re.findall(r'"code": "(PE\d{3})"', output)
        if not any(code in SYNTAX_CODES for code in codes):
            campaign.parsed += 1
        if status != 0:
            return
        campaign.evaluated += 1
        status, output = _cli("evaluate", "--policy", str(path), str(SMALL_RECORDS), "--as-of", "2022-03-01",
                              "--format", "jsonl", "-o", os.devnull)
        if status == 70:
            campaign.tracebacks.append(campaign.save("traceback", text + "\n# " + output[:2000].replace("\n", "\n# "), ".yaml"))

    campaign.run(one)
    return campaign


def records_campaign(seed: int, seconds: float, keep: Path, work: Path) -> Campaign:
    campaign = Campaign("records", seed, seconds, keep)
    rng = campaign.rng
    examples = [(city, path, yaml.safe_load(path.read_text(encoding="utf-8"))) for city, path in example_sets()]

    def one() -> None:
        city, source, data = rng.choice(examples)
        path = _dump(rng, mutate_records(rng, data), work)
        campaign._current = str(path)
        status, output = _cli("evaluate", "--policy", city, str(path), "--as-of", "2023-09-01", "--format", "jsonl",
                              "-o", os.devnull)
        text = path.read_text(encoding="utf-8", errors="replace")
        if status == 70:
            campaign.tracebacks.append(campaign.save("traceback", f"# {source.name}\n" + text, path.suffix))
            return
        if _memory_hang(output):
            campaign.hangs.append(campaign.save("memory", text, path.suffix))
        campaign.parsed += status != 2 or '"RE108"' not in output
        campaign.evaluated += status in (0, 3)

    campaign.run(one)
    return campaign


def api_campaign(seed: int, seconds: float, keep: Path, work: Path) -> Campaign:
    campaign = Campaign("api", seed, seconds, keep)
    rng = campaign.rng
    grammar = GrammarFuzzer(rng, lambda: API_NAMES)
    fields = list(API_FIELDS)

    typed = TypedFuzzer(rng)

    def one() -> None:
        if rng.random() < 0.5:
            text = grammar.expression(rng.choice([3, 5, 8, 11]))
            # field reads: `r.z` … appear where the grammar put a name, often
            text = re.sub(r"\b(r)\b(?!\s*\.)", lambda m: f"r.{rng.choice(fields)}", text)
        else:
            text = typed.of(rng.choice(["number", "bool", "date", "string", "money"]))
        campaign._current = text
        try:
            function = compile_expression(text, API_FIELDS, name="r")
        except PolicyError as error:
            if not any(d.code in SYNTAX_CODES for d in error.diagnostics):
                campaign.parsed += 1
            return
        except Exception as error:  # noqa: BLE001 - the API documents PolicyError only
            campaign.tracebacks.append(campaign.save("traceback", f"{text}\n# {type(error).__name__}: {error}", ".txt"))
            return
        campaign.parsed += 1
        try:
            function(dict(API_RECORD))
            campaign.evaluated += 1
        except (runtime.EvaluationError, runtime.Absent):
            campaign.evaluated += 1
        except Exception as error:  # noqa: BLE001 - a call raises EvaluationError or Absent only
            campaign.tracebacks.append(campaign.save("traceback", f"{text}\n# {type(error).__name__}: {error}", ".txt"))

    campaign.run(one)
    return campaign


CAMPAIGNS = {"policy": policy_campaign, "records": records_campaign, "api": api_campaign}


def _bound_memory() -> None:
    """This process may grow at most HANG_BYTES beyond what it has now (a blow-up is a MemoryError)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + HANG_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaign", choices=sorted(CAMPAIGNS), action="append")
    parser.add_argument("--seconds", type=float, default=20, help="per campaign")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="folder for failing inputs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    keep = args.keep or Path(tempfile.mkdtemp(prefix="policyengine-fuzz-"))
    campaigns = args.campaign or list(CAMPAIGNS)
    _warm_up(records="records" in campaigns)
    _bound_memory()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name in campaigns:
            directory = Path(work) / name
            directory.mkdir()
            results.append(CAMPAIGNS[name](args.seed, args.seconds, keep, directory).summary())
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for r in results:
            print(f"{r['campaign']:8} inputs {r['inputs']:6}  past parsing {r['past_parsing']:6} "
                  f"({r['share_past_parsing']:.0%})  evaluated {r['evaluated']:6}  tracebacks {r['tracebacks']}  "
                  f"hangs {r['hangs']}")
            for failing in r["failing_inputs"]:
                print(f"    {failing}")
    return 1 if any(r["tracebacks"] or r["hangs"] for r in results) else 0


def _warm_up(records: bool) -> None:
    """Load what the inputs share (grammar, schema, the examples' policies) before the memory bound."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from policyengine import load_policy

        for city, _ in example_sets() if records else ():
            load_policy(city)
        cli.main(["--lang", "en", "check", str(SMALL_POLICY)])


if __name__ == "__main__":
    sys.exit(main())
