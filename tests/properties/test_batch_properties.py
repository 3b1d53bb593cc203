"""Batch evaluation over every bundled policy (discovered in policies/): a generated record set of the
policy, split into shards closed under navigation (the connected groups of records that reference
each other), streamed through `Policy.evaluate_many` gives exactly the findings of one `evaluate`."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings

TEST_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)  # shrinking a whole record set takes minutes

from policyengine.testing import strategies as pst
from propcommon import policies, policy_names


def _ids(value, found: list) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.append(str(key))
            _ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _ids(item, found)


def closed_shards(raw: dict[str, list[dict]], schema) -> list[dict[str, list[dict]]]:
    """The record set split into groups closed under reference: union–find over record ids, each
    record joined with every id it mentions (fields, nested records, map keys)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    nodes = []
    known = {record[schema.collections[c].id_field] for c, items in raw.items() for record in items
             if schema.collections[c].id_field and schema.collections[c].id_field in record}
    known |= {p["subject_team_id"] for p in raw.get("persons", ()) if "subject_team_id" in p}  # assessment subjects
    for collection, items in raw.items():
        for index, record in enumerate(items):
            node = f"#{collection}#{index}"
            mentioned: list = []
            _ids(record, mentioned)
            for other in mentioned:
                if other in known:
                    parent[find(node)] = find(other)
            nodes.append((node, collection, record))
    shards: dict[str, dict[str, list[dict]]] = {}
    for node, collection, record in nodes:
        shards.setdefault(find(node), {}).setdefault(collection, []).append(record)
    return list(shards.values())


@pytest.mark.parametrize("name", policy_names())
def test_sharded_evaluation_equals_one_evaluation(name):
    policy = policies()[name]

    @settings(max_examples=max(5, settings.default.max_examples // 2), phases=TEST_PHASES)
    @given(pst.record_sets(policy=policy.path), pst.as_of_dates())
    def check(raw, as_of):
        records = policy.load_records(raw)
        whole = policy.evaluate(records, as_of).findings
        shards = closed_shards(raw, policy.record_schema)
        streamed = list(policy.evaluate_many(shards, as_of, jurisdiction_records=records))
        assert sorted(streamed, key=lambda f: f.sort_key()) == list(whole)

    check()
