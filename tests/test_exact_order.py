"""Order (issue 21.4): lists in records are sets. The loader puts every list in one canonical order
whatever order the input gave, so no rule can depend on it; the Liuzhou plaque rule is the case the
issue names (several leads, in any order). tests/properties/test_order.py shuffles every list at every
depth under every bundled policy."""

from __future__ import annotations

import datetime as dt
import itertools

from policyengine import load_policy, load_records

UNITS = [{"unit_id": "u3", "name": "丙校", "aliases": ["丙", "柳州丙校"]},
         {"unit_id": "u1", "name": "甲校"}, {"unit_id": "u2", "name": "乙校"}]


def test_every_list_of_the_records_comes_in_one_canonical_order():
    a = load_records({"units": UNITS, "communities": [{"community_id": "c2", "name": "乙", "units": [
        {"unit_id": "u2", "role": "partner"}, {"unit_id": "u1", "role": "lead"}]},
        {"community_id": "c1", "name": "甲", "units": [{"unit_id": "u3", "role": "lead"}]}]})
    assert [u.unit_id for u in a.units] == ["u1", "u2", "u3"]  # collections by id
    assert [c.community_id for c in a.communities] == ["c1", "c2"]
    assert [m.unit_id for m in a.communities[1].units] == ["u1", "u2"]  # memberships by unit id
    assert a.units[2].aliases == ("丙", "柳州丙校")  # scalars by value
    assert [m.community.community_id for m in a.memberships] == ["c1", "c2", "c2"]


PLAQUE = "甲校乙校--丙校教育共同体"


def plaque_outcome(units: list, plaque: str, unit_records=None) -> str:
    records = {"units": unit_records or [{"unit_id": "u1", "name": "甲校", "city": "liuzhou"},
                                         {"unit_id": "u2", "name": "乙校", "city": "liuzhou"},
                                         {"unit_id": "u3", "name": "丙校", "city": "liuzhou"}],
               "communities": [{"community_id": "c1", "name": plaque, "tier": "intra_county", "units": units}]}
    report = load_policy("liuzhou").evaluate(load_records(records), as_of=dt.date(2024, 9, 1),
                                             rules=["liuzhou.naming.plaque_format"])
    (finding,) = report.findings
    return finding.outcome


def test_the_plaque_rule_does_not_depend_on_the_order_of_the_units():
    """Two leads (甲, 乙) and a partner (丙): the text fixes no order among the leads, so both plaques
    conform, for every order of community.units; a partner before a lead does not."""
    members = [{"unit_id": "u1", "role": "lead"}, {"unit_id": "u2", "role": "lead"}, {"unit_id": "u3", "role": "partner"}]
    for order in itertools.permutations(members):
        assert plaque_outcome(list(order), "甲校乙校--丙校教育共同体") == "pass"
        assert plaque_outcome(list(order), "乙校甲校--丙校教育共同体") == "pass"
        assert plaque_outcome(list(order), "甲校丙校--乙校教育共同体") == "violation"


def test_a_unit_is_named_by_the_longest_name_the_plaque_bears():
    """丙校's aliases 丙 and 柳州丙校 are both inside 柳州丙校: the plaque names it by the longer one,
    whatever order the aliases were recorded in."""
    members = [{"unit_id": "u1", "role": "lead"}, {"unit_id": "u3", "role": "partner"}]
    for aliases in (["丙", "柳州丙校"], ["柳州丙校", "丙"]):
        units = [{"unit_id": "u1", "name": "甲校", "city": "liuzhou"},
                 {"unit_id": "u3", "name": "第三小学", "aliases": aliases, "city": "liuzhou"}]
        assert plaque_outcome(members, "甲校--柳州丙校教育共同体", units) == "pass"
