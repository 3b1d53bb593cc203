"""Testing kit: policy test files (`cases`), rule coverage (`coverage`), the pytest plugin, and
Hypothesis strategies (`strategies`, loaded on first use so that Hypothesis is needed only by
callers of the strategies):

    from policyengine.testing import strategies as pst
    from policyengine import testing
    testing.record_sets()            # same as testing.strategies.record_sets()
"""

from __future__ import annotations

import importlib
from typing import Any

_STRATEGY_NAMES = ("Vocabulary", "Sizes", "Breakage", "vocabulary", "record_sets", "invalid_record_sets",
                   "as_of_dates", "dates", "amounts", "expressions", "typed_expressions", "typed_records",
                   "arbitrary_text", "TYPED_RECORD")

__all__ = ["cases", "coverage", "strategies", *_STRATEGY_NAMES]


def __getattr__(name: str) -> Any:
    if name in ("cases", "coverage", "strategies"):
        return importlib.import_module(f"policyengine.testing.{name}")
    if name in _STRATEGY_NAMES:
        return getattr(importlib.import_module("policyengine.testing.strategies"), name)
    raise AttributeError(f"module 'policyengine.testing' has no attribute {name!r}")
