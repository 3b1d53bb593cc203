"""Mutation run: does each policy's test suite catch a broken comparison?

For each policy, every comparison operator of its rule and definition expressions — `when`, `require`,
`amount`, reported `values`, rule-local `let:` and the arguments of template instances — is flipped in
turn (`>=`↔`>`, `<=`↔`<`, `==`↔`!=`) in a temporary copy of the policy file, and the policy's test files
(<policy folder>/tests/<policy>/*.yaml) are run against the copy. A mutant is *killed* when some case
fails (or the copy no longer loads); it *survives* when every case still passes. A survivor in a
reported value is a missing assertion: some case should assert that value.

    policyengine test --mutate [--policy NAME]...      # every bundled policy that has tests
    python tools/mutate.py --policy NAME --json mutation.json

The policy is parsed once (testing/walk.py gives each operator's character offset from the parser's
node spans); each mutant is a one-operator text edit, loaded, checked and compiled once per parameter
set, and evaluated on the case records, which are loaded once. Only the cases that assert a rule the
mutated expression can change (the rule itself, or every rule using a mutated definition) are run,
and of those only the rules they assert are evaluated.

A mutant that no valid record can tell from the policy (an *equivalent* mutant) is listed with its
reason beside the policy's tests, in `policies/tests/<policy>/scenarios.yaml`:

    mutation:
      equivalent:
        - where: "rule <id> when.<name>"   # the `where` of the mutant as reported
          from: ">="                       # the operator before the flip
          occurrence: 2                    # which `from` of that expression (1-based); only when several
          reason: "..."                    # why no valid record can tell the two apart

A listed mutant that survives is reported under `equivalent` and left out of the kill rate's
denominator; one that is killed, or an entry that names no mutant, is reported under
`equivalent_problems` (the list is kept exact) and excludes nothing.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import attrs

from policyengine import nodes as n
from policyengine import resources
from policyengine.diagnostics import PolicyError
from policyengine.engine import _load, policy_path  # _load: uncached, each mutant is a new file
from policyengine.records import RecordErrors, load_records
from policyengine.schemaext import extension_path, schema_for_policy
from policyengine.testing.cases import case_files, compare, load_case_file
from policyengine.testing.walk import comparison_operators, expressions, walk


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@attrs.frozen
class Prepared:
    case: object
    records: object
    rules: frozenset


def prepare(policy_file: Path, tests_dir: Path, mutant_path: Path) -> list[Prepared]:
    prepared = []
    loaded: dict[str, object] = {}  # cases often share the same record files: load each once
    for file in case_files([tests_dir]):
        for case in load_case_file(file, policy_override=mutant_path):
            key = repr(case.records)
            try:
                records = loaded[key] if key in loaded else loaded.setdefault(key, _records(mutant_path, case))
            except RecordErrors:
                continue  # a broken case is the test suite's problem, not a mutant's
            prepared.append(Prepared(case, records, frozenset(e["rule"] for e in case.expected)))
    return prepared


def _records(policy_file: Path, case) -> object:
    """The case's records, loaded with the policy's record schema (its extension included)."""
    return load_records(list(case.records), schema=schema_for_policy(policy_file)[0])


def affected_rules(policy_file: Path) -> dict[str, frozenset]:
    """Expression owner ("definition <name>" or a rule id) → the rule ids whose result it can change:
    a rule's own expressions change only that rule; a definition changes every rule that uses it,
    directly or through other definitions."""
    uses: dict[str, set] = {}
    for expression in expressions(policy_file):
        owner = expression.rule or expression.where
        names = uses.setdefault(owner, set())
        for node in walk(expression.node):
            if isinstance(node, n.Name):
                names.add(f"definition {node.name}")
            elif isinstance(node, n.Call):
                names.add(f"definition {node.function}")
    closure: dict[str, set] = {}

    def reach(owner: str, seen: frozenset = frozenset()) -> set:
        if owner in closure:
            return closure[owner]
        found = set()
        for name in uses.get(owner, ()):
            if name in uses and name not in seen:
                found |= {name} | reach(name, seen | {owner})
        closure[owner] = found
        return found

    affected: dict[str, set] = {}
    for owner in uses:
        if owner.startswith("definition "):
            continue
        affected.setdefault(owner, set()).add(owner)
        for definition in reach(owner):
            affected.setdefault(definition, set()).add(owner)
    return {k: frozenset(v) for k, v in affected.items()}


def killed_by(mutant_path: Path, prepared: list[Prepared], rules: frozenset | None = None) -> str | None:
    """The first case that fails on the mutant ('<load error>' if it does not load), or None. With
    `rules`, only the cases that assert one of those rules are run (no other case can fail)."""
    policies: dict[tuple, object] = {}
    for item in prepared:
        if rules is not None and not (item.rules & rules):
            continue
        key = repr(item.case.parameters)
        if key not in policies:
            try:
                policies[key] = _load(str(mutant_path), dict(item.case.parameters))
            except PolicyError as error:
                return f"<load error: {error.diagnostics[0].render('en') if error.diagnostics else ''}>"
        policy = policies[key]
        subset = attrs.evolve(policy, rules=tuple(r for r in policy.rules if r.id in item.rules))
        report = subset.evaluate(item.records, item.case.as_of)
        for expected in item.case.expected:
            problem, _ = compare(expected, report)
            if problem:
                return f"{Path(item.case.file).name} :: {item.case.name}"
    return None


class EquivalentsError(Exception):
    """A `mutation:` section of scenarios.yaml is malformed (names the file and the entry)."""


def listed_equivalents(policy_file: Path) -> list[dict]:
    """The equivalent mutants listed in the policy's scenarios.yaml (`mutation: {equivalent: [...]}`)."""
    from policyengine.testing.reach import load_hints

    hints = load_hints(policy_file)
    section = hints.get("mutation") or {}
    where = hints.get("__file__")
    if not isinstance(section, dict) or set(section) - {"equivalent"}:
        raise EquivalentsError(f"{where}: `mutation:` takes equivalent")
    entries = section.get("equivalent") or []
    for entry in entries if isinstance(entries, list) else [None]:
        if not isinstance(entry, dict) or not {"where", "from", "reason"} <= set(entry) \
                or set(entry) - {"where", "from", "occurrence", "reason"} or not str(entry["reason"]).strip():
            raise EquivalentsError(f"{where}: each mutation.equivalent entry needs where, from and a reason "
                                   f"(occurrence optional): {entry!r}")
    return entries


def _occurrences(operators: list) -> dict[int, tuple]:
    """Operator offset → (where, op, its 1-based occurrence among that op in that expression, how many)."""
    seen: dict[tuple, list[int]] = {}
    for operator in operators:
        seen.setdefault((operator.expression.where, operator.op), []).append(operator.offset)
    return {offset: (key[0], key[1], i + 1, len(offsets))
            for key, offsets in seen.items() for i, offset in enumerate(offsets)}


def _apply_equivalents(entries: list[dict], results: list[dict]) -> list[str]:
    """Marks each listed surviving mutant `equivalent` (with its reason); returns the problems: an entry
    naming no mutant (or several), or naming a mutant the tests kill."""
    problems = []
    for entry in entries:
        matches = [r for r in results if r["where"] == str(entry["where"]) and r["from"] == str(entry["from"])
                   and ("occurrence" not in entry or r["occurrence"] == int(entry["occurrence"]))]
        label = f"{entry['where']} {entry['from']}" + (f" #{entry['occurrence']}" if "occurrence" in entry else "")
        if len(matches) != 1:
            problems.append(f"{label}: names {len(matches)} mutants (one expected; add occurrence)")
        elif matches[0]["killed"]:
            problems.append(f"{label}: listed as equivalent but killed by {matches[0]['killed_by']}")
        else:
            matches[0]["equivalent"] = " ".join(str(entry["reason"]).split())
    return problems


def run_policy(name: str | Path, limit: int | None = None, verbose: bool = False,
               include_values: bool = True) -> dict:
    """Mutate one policy (a bundled name or a policy file) against its tests (<folder>/tests/<stem>/)."""
    policy_file = policy_path(name)
    tests_dir = policy_file.parent / "tests" / policy_file.stem
    name = policy_file.stem
    if not policy_file.is_file() or not tests_dir.is_dir():
        return {"policy": name, "skipped": "no policy file or no tests"}
    text = policy_file.read_text(encoding="utf-8")
    operators = comparison_operators(policy_file, include_values=include_values)[:limit]
    occurrences = _occurrences(operators)
    entries = listed_equivalents(policy_file)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutate-{name}-") as folder:
        mutant_path = Path(folder) / policy_file.name
        mutant_path.write_text(text, encoding="utf-8")
        extension = extension_path(policy_file)
        if extension is not None and Path(extension).is_file():  # the mutant keeps the policy's record fields
            (Path(folder) / "schema").mkdir()
            (Path(folder) / "schema" / Path(extension).name).write_text(Path(extension).read_text(encoding="utf-8"),
                                                                       encoding="utf-8")
        prepared = prepare(policy_file, tests_dir, mutant_path)
        baseline = killed_by(mutant_path, prepared)
        if baseline:
            return {"policy": name, "skipped": f"the unmutated policy already fails: {baseline}"}
        affected = affected_rules(policy_file)
        results = []
        for operator in operators:
            owner = operator.expression.rule or operator.expression.where
            mutated = text[:operator.offset] + operator.flipped + text[operator.offset + len(operator.op):]
            mutant_path.write_text(mutated, encoding="utf-8")
            killer = killed_by(mutant_path, prepared, affected.get(owner, frozenset()))
            line_text = mutated.splitlines()[operator.line - 1].strip()
            results.append({"location": f"{_shown(policy_file)}:{operator.line}:{operator.col}",
                            "where": operator.expression.where, "from": operator.op, "to": operator.flipped,
                            "occurrence": occurrences[operator.offset][2],
                            "expression": _excerpt(operator.expression.scalar.text, operator),
                            "line": line_text, "killed": killer is not None, "killed_by": killer})
            if verbose:
                print(f"  {'killed  ' if killer else 'SURVIVED'} {results[-1]['location']} {operator.op}→{operator.flipped}",
                      file=sys.stderr)
    problems = _apply_equivalents(entries, results) if limit is None else []  # a smoke run sees only some
    killed = sum(r["killed"] for r in results)
    equivalent = [r for r in results if "equivalent" in r]
    counted = len(results) - len(equivalent)  # the denominator: equivalents are left out, each with its reason
    return {"policy": name, "mutants": len(results), "killed": killed,
            "kill_rate": round(killed / counted, 4) if counted else 1.0,
            "kill_rate_all": round(killed / len(results), 4) if results else 1.0,
            "cases": len(prepared), "seconds": round(time.perf_counter() - started, 1),
            "survivors": [r for r in results if not r["killed"] and "equivalent" not in r],
            "equivalent": equivalent, "equivalent_problems": problems, "mutations": results}


def _excerpt(expression: str, operator) -> str:
    """The expression with the operator flipped, one line (long ones cut around the operator)."""
    flat = " ".join(expression.split())
    return flat if len(flat) <= 240 else flat[:237] + "…"



def bundled_with_tests() -> list[str]:
    return [name for name in resources.bundled_policy_names() if (resources.policies_dir() / "tests" / name).is_dir()]


def render(results: list[dict]) -> str:
    lines = []
    for result in results:
        name = result["policy"]
        if "skipped" in result:
            lines.append(f"{name}: skipped ({result['skipped']})")
            continue
        equivalent = result.get("equivalent", [])
        lines.append(f"{name}: {result['killed']}/{result['mutants'] - len(equivalent)} mutants killed "
                     f"({result['kill_rate'] * 100:.1f}%)" + (f", {len(equivalent)} equivalent left out" if equivalent else "")
                     + f", {result['cases']} cases, {result['seconds']} s")
        for survivor in result["survivors"]:
            lines.append(f"  survived {survivor['location']} {survivor['from']}→{survivor['to']} "
                         f"[{survivor['where']}] {survivor['line']}")
        for item in equivalent:
            lines.append(f"  equivalent {item['location']} {item['from']}→{item['to']} [{item['where']}]: "
                         f"{item['equivalent']}")
        for problem in result.get("equivalent_problems", []):
            lines.append(f"  equivalent list: {problem}")
    return "\n".join(lines)


def run(names: list[str] | None = None, limit: int | None = None, verbose: bool = False,
        json_path: str | None = None) -> list[dict]:
    results = []
    for name in names or bundled_with_tests():
        print(f"{name}: mutating…", file=sys.stderr)
        results.append(run_policy(name, limit, verbose))
    if json_path:
        output = json.dumps({"results": results}, ensure_ascii=False, indent=2)
        if json_path == "-":
            print(output)
        else:
            Path(json_path).write_text(output + "\n", encoding="utf-8")
    return results
