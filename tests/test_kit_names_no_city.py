"""The testing kit is policy-agnostic (#17): src/policyengine/testing/ names no bundled policy, no
jurisdiction (id, name or alias) and no rule id, so a new city gets the whole kit from data alone."""

from pathlib import Path

import yaml

from policyengine import resources

KIT = Path(__file__).resolve().parents[1] / "src" / "policyengine" / "testing"


def _names() -> set[str]:
    names: set[str] = set()
    for path in resources.policies_dir().glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        names.add(path.stem)
        jurisdiction = data.get("jurisdiction") or {}
        names |= {str(jurisdiction.get(k)) for k in ("id", "name") if jurisdiction.get(k)}
        names |= {str(a) for a in jurisdiction.get("aliases") or ()}
        names |= {str(rule["id"]) for rule in data.get("rules") or () if isinstance(rule, dict) and "id" in rule}
    return {n for n in names if len(n) >= 2}


def test_the_testing_kit_names_no_city_and_no_rule():
    names = _names()
    assert len(names) > 8  # the eight bundled policies and their rules were read
    found = []
    for source in sorted(KIT.rglob("*.py")):
        text = source.read_text(encoding="utf-8").lower()
        found += [f"{source.name}: {name}" for name in sorted(names) if name.lower() in text]
    assert not found, found
