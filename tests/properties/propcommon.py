"""Shared fixtures of the property tests: the bundled policies, loaded once."""

from __future__ import annotations

import functools

from policyengine import load_policy, resources

CITY_POLICIES = ("liuzhou", "ruian", "suixian", "yueqing")


@functools.cache
def policies() -> dict:
    return {name: load_policy(name) for name in resources.bundled_policy_names()}


def policy(name: str):
    return policies()[name]
