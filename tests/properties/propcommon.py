"""Shared fixtures of the property tests: every bundled policy found in policies/ (discovered, never
listed by name), loaded once."""

from __future__ import annotations

import functools

from policyengine import load_policy, resources


def policy_names() -> tuple[str, ...]:
    return tuple(resources.bundled_policy_names())


@functools.cache
def policies() -> dict:
    return {name: load_policy(name) for name in policy_names()}


def policy(name: str):
    return policies()[name]
