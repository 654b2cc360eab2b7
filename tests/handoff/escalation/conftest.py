"""Fixtures of the escalation tests: the shipped policy, as a model and as the raw YAML mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from handoff.escalation.policy import EscalationPolicy, load_policy

SHIPPED_POLICY = Path(__file__).resolve().parents[3] / "data" / "escalation.yml"


@pytest.fixture(scope="session")
def policy() -> EscalationPolicy:
    """The policy in ``data/escalation.yml``; the engine tests pin its numbers."""
    return load_policy(SHIPPED_POLICY)


@pytest.fixture
def raw_policy() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped file's mapping, to derive broken or varied policies."""
    data: dict[str, Any] = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8"))
    return data
