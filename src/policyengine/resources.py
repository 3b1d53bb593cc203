"""Resources: where the grammar and the bundled policies live, installed or in a checkout.

The wheel carries `grammar/`, `policies/` and `sources/` inside the package (see pyproject.toml); in a source
checkout they sit at the repository root. Either way callers get the same files.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"policyengine data folder {name!r} not found next to {_PACKAGE}")


@functools.cache
def grammar_text() -> str:
    return (_data_dir("grammar") / "policy.lark").read_text(encoding="utf-8")


def policies_dir() -> Path:
    return _data_dir("policies")


def sources_dir() -> Path:
    """The vendored source documents the bundled policies cite (sources/*.txt)."""
    return _data_dir("sources")


def bundled_policy(name: str) -> Path | None:
    """`liuzhou` → the bundled policies/liuzhou.yaml, or None."""
    path = policies_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def bundled_policy_names() -> list[str]:
    return sorted(p.stem for p in policies_dir().glob("*.yaml"))
