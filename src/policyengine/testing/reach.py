"""Rule reach: do generated record sets drive each rule of a policy to each of its outcome sides?

A seeded Hypothesis run draws record sets for one policy (its vocabulary and scenarios only, so that
adding another policy changes nothing here), evaluates them on the drawn date and on a late date,
and collects the outcome sides (testing.coverage.side) each rule reached. What a policy may leave
unreached is data beside its tests, `policies/tests/<policy>/scenarios.yaml`:

    reach:
      min_share: 0.9            # rules reached on every side / encoded rules (default 0.9)
      parameters:               # other parameter sets each example is also evaluated under (opt-in readings)
        - {research_frequency: semester}
      unreached:                # rule id → the sides not reached and why (each one a precise reason)
        <rule id>: {sides: [pass], reason: "..."}

`problems()` fails a policy whose share of rules reached on every side is below its threshold, or
with a rule reached on no side that the list does not name; `notes()` lists the sides missed without
a listed reason and the listed sides that were reached after all (the list is kept exact by whoever
changes the policy or its scenarios; a policy edit elsewhere must not fail the suite). The run sets every Hypothesis setting it depends on (seed, derandomize=False, no
database) and turns off Hypothesis' constants from local source (`local_constants_off`), so it draws the
same examples in a checkout, an installed wheel and under CI=1.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, Callable, Mapping

import attrs
import yaml

from policyengine.engine import Policy, policy_path
from policyengine.testing.cases import HINTS_FILE
from policyengine.testing.coverage import SIDES, side

SEED = 20210901
LATE = dt.date(2026, 9, 1)  # after every period and due date of the policies' scenarios
DEFAULT_MIN_SHARE = 0.9


class HintsError(Exception):
    """A scenarios.yaml is malformed (names the file and the key)."""


@attrs.frozen
class Expectation:
    min_share: float = DEFAULT_MIN_SHARE
    unreached: Mapping[str, tuple[tuple[str, ...], str]] = attrs.field(factory=dict)  # rule → (sides, reason)
    parameters: tuple[Mapping[str, Any], ...] = ()  # further parameter sets evaluated on every example
    source: str | None = None  # the file it was read from


@attrs.frozen
class Reach:
    policy: str
    rules: int
    full: int  # rules reached on every side
    missing: Mapping[str, tuple[str, ...]]  # rule id → sides not reached (only rules with some)

    @property
    def share(self) -> float:
        return self.full / self.rules if self.rules else 1.0


def tests_dir(policy: str | Path) -> Path:
    """A policy's test folder: `<policy folder>/tests/<policy file stem>` (bundled or not)."""
    path = policy_path(policy)
    return path.parent / "tests" / path.stem


def load_hints(policy: str | Path) -> dict[str, Any]:
    """The policy's scenarios.yaml as a mapping ({} when it has none)."""
    path = tests_dir(policy) / HINTS_FILE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise HintsError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise HintsError(f"{path}: a mapping with `reach:` and/or `scenarios:` expected")
    unknown = set(data) - {"reach", "scenarios", "rosters", "description", "mutation"}  # mutation: testing/mutation.py
    if unknown:
        raise HintsError(f"{path}: unknown key(s) {sorted(unknown)}")
    return {**data, "__file__": str(path)}


def expectation(policy: str | Path) -> Expectation:
    hints = load_hints(policy)
    reach = hints.get("reach") or {}
    where = hints.get("__file__")
    if not isinstance(reach, dict) or set(reach) - {"min_share", "unreached", "parameters"}:
        raise HintsError(f"{where}: `reach:` takes min_share, parameters and unreached")
    parameters = reach.get("parameters") or []
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        raise HintsError(f"{where}: reach.parameters is a list of parameter mappings")
    unreached = {}
    for rule_id, item in (reach.get("unreached") or {}).items():
        if not isinstance(item, dict) or set(item) != {"sides", "reason"} or not str(item["reason"]).strip():
            raise HintsError(f"{where}: reach.unreached.{rule_id} needs `sides` and a `reason`")
        unreached[str(rule_id)] = (tuple(item["sides"]), " ".join(str(item["reason"]).split()))
    return Expectation(float(reach.get("min_share", DEFAULT_MIN_SHARE)), unreached,
                       tuple({str(k): str(v) for k, v in p.items()} for p in parameters), where)


def drive(policy: Policy, strategy: Any, examples: int, seed_value: int = SEED,
          variants: tuple[Policy, ...] = ()) -> dict[str, set[str]]:
    """Rule id → the outcome sides reached by `examples` record sets drawn from `strategy` (raw record
    sets), each evaluated on the drawn evaluation date (moved into the policy's effective window) and on
LATE (or the policy's last day), by the policy and its `variants`
    (the same policy under other parameter sets)."""
    from hypothesis import HealthCheck, given, seed, settings

    from policyengine.testing import strategies as pst

    reached: dict[str, set[str]] = collections.defaultdict(set)

    late = min(LATE, policy.effective_to) if policy.effective_to else LATE

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy, pst.as_of_dates())
    def run(raw, as_of):
        records = policy.load_records(raw)
        for when in sorted({in_force(policy, as_of), late}):
            for each in (policy, *variants):
                for finding in each.evaluate(records, when).findings:
                    reached_side = side(policy.rule_kinds[finding.rule][0], finding)
                    if reached_side:
                        reached[finding.rule].add(reached_side)

    with local_constants_off():
        run()
    return reached


@contextlib.contextmanager
def local_constants_off():
    """Keep Hypothesis from drawing the literals of "local" modules. Hypothesis (6.170 here) now and then
    draws a string or number found in the source of any imported module outside site-packages: an
    editable checkout's policyengine is local, an installed wheel's is not, so the same seed drew different
    record sets in the two (one policy reached 10/30 rules in a checkout, 9/30 from the wheel), and an edit to any
    literal in src/, or one more module imported, changed what a run drew. Hypothesis' own constants stay."""
    try:
        from hypothesis.internal.conjecture import providers
        original, cached = providers._get_local_constants, providers.CONSTANTS_CACHE
    except (ImportError, AttributeError):  # no local constants (if a release renames them, test_rule_reach fails)
        yield
        return
    none = providers.Constants()
    providers._get_local_constants = lambda: none
    cached.cache.clear()  # the permitted constants cached by earlier runs of this process include the local ones
    try:
        yield
    finally:
        providers._get_local_constants = original
        cached.cache.clear()


def in_force(policy: Policy, day: dt.date) -> dt.date:
    """`day` moved by whole years into the policy's effective window (a policy says nothing before it
    takes effect: every finding would be not_applicable), keeping its place in the calendar."""
    while policy.effective_from and day < policy.effective_from:
        day = _years_later(day, 1)
    while policy.effective_to and day > policy.effective_to:
        day = _years_later(day, -1)
    return day


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def assess(policy: Policy, reached: Mapping[str, set[str]]) -> Reach:
    missing = {}
    for rule in policy.rules:
        gaps = tuple(s for s in SIDES[rule.kind] if s not in reached.get(rule.id, ()))
        if gaps:
            missing[rule.id] = gaps
    return Reach(policy.name, len(policy.rules), len(policy.rules) - len(missing), missing)


def notes(reach: Reach, expected: Expectation) -> list[str]:
    """Where the list of unreached sides and this run disagree (printed; kept exact by hand)."""
    found = []
    for rule_id, sides in reach.missing.items():
        listed = expected.unreached.get(rule_id, ((), ""))[0]
        found += [f"{rule_id}: {s} not reached (no reason listed)" for s in sides if s not in listed]
    for rule_id, (sides, _) in expected.unreached.items():
        found += [f"{rule_id}: {s} listed as unreached but reached (drop it from the list)"
                  for s in sides if s not in reach.missing.get(rule_id, ())]
    return found


def problems(reach: Reach, expected: Expectation, rule_ids: Any, sides_of: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Failures: a share below the threshold, a rule reached on no side that the list does not name
    on all its sides, a listed rule the policy does not have."""
    found = []
    for rule_id, sides in reach.missing.items():
        listed = expected.unreached.get(rule_id, ((), ""))[0]
        if len(sides) == len(sides_of[rule_id]) and not set(sides) <= set(listed):
            found.append(f"{rule_id}: reached on no side ({', '.join(sides)})")
    found += [f"{rule_id}: listed as unreached but not a rule of {reach.policy}"
              for rule_id in expected.unreached if rule_id not in rule_ids]
    if reach.share < expected.min_share:
        found.append(f"{reach.full}/{reach.rules} rules reached on every side ({reach.share:.1%}) "
                     f"< the threshold {expected.min_share:.1%}")
    return found


def run_reach(policy: Policy, examples: int, strategy_for: Callable[[Policy], Any] | None = None,
              seed_value: int = SEED) -> tuple[Reach, Expectation, list[str]]:
    """Drive, assess and check one policy against its expectation: (reach, expectation, problems)."""
    from policyengine.testing import strategies as pst

    from policyengine.engine import load_policy

    strategy = strategy_for(policy) if strategy_for else pst.record_sets(policy=policy.path)
    expected = expectation(policy.path)
    variants = tuple(load_policy(policy.path, parameters=p) for p in expected.parameters)
    reach = assess(policy, drive(policy, strategy, examples, seed_value, variants))
    sides_of = {r.id: SIDES[r.kind] for r in policy.rules}
    return reach, expected, problems(reach, expected, set(sides_of), sides_of)


def render(reach: Reach, expected: Expectation) -> str:
    lines = [f"{reach.policy}: {reach.full}/{reach.rules} rules reached on every side ({reach.share:.1%}, "
             f"threshold {expected.min_share:.1%})"]
    for rule_id, sides in reach.missing.items():
        reason = expected.unreached.get(rule_id, ((), "NO REASON LISTED"))[1]
        lines.append(f"  {rule_id}: {', '.join(sides)} — {reason}")
    lines += [f"  note: {note}" for note in notes(reach, expected)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """python -m policyengine.testing.reach [--examples N] POLICY…: print each policy's reach; exit 1
    when a policy fails its threshold."""
    import argparse

    from policyengine.engine import load_policy

    parser = argparse.ArgumentParser(prog="python -m policyengine.testing.reach", description=main.__doc__)
    parser.add_argument("policies", nargs="+", help="bundled policy names or policy files")
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args(argv)
    failed = False
    for name in args.policies:
        result, expected, found = run_reach(load_policy(name), args.examples)
        print(render(result, expected))
        for problem in found:
            print(f"  FAIL: {problem}")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
