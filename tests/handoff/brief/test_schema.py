"""The brief's schema: JSON round trip, strictness, and the committed JSON Schema document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from handoff.brief.json_schema import (
    REGENERATE_COMMAND,
    brief_json_schema,
    main,
    render_brief_json_schema,
)
from handoff.brief.schema import HandoffBrief

REPO = Path(__file__).resolve().parents[3]
COMMITTED_SCHEMA = REPO / "docs" / "handoff-brief.schema.json"


def test_json_round_trip(sample_brief: HandoffBrief) -> None:
    text = sample_brief.model_dump_json()
    again = HandoffBrief.model_validate_json(text)
    assert again == sample_brief
    assert again.model_dump_json() == text


def test_json_form_uses_plain_values(sample_brief: HandoffBrief) -> None:
    body = json.loads(sample_brief.model_dump_json())
    assert body["schema_version"] == 1
    assert (body["severity"], body["category"], body["mode"]) == ("sev2", "security", "warm")
    assert body["customer"] == {"id": "cus_1001", "name": "Ana Lima", "tier": "premium"}
    assert body["reasons"][0]["value"] is True
    assert body["slots"]["signed_in"] is True
    assert body["created_at"] == "2026-11-27T10:10:00Z"


def body_of(brief: HandoffBrief) -> dict[str, Any]:
    return json.loads(brief.model_dump_json())


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("customer",),
        ("sla",),
        ("transcript", 0),
        ("transcript", 0, "sentiment"),
        ("sentiment_arc", 0),
        ("intents", 0),
        ("attempted_steps", 0),
        ("entities", 0),
        ("reasons", 0),
    ],
)
def test_unknown_fields_are_refused(sample_brief: HandoffBrief, path: tuple[Any, ...]) -> None:
    body = body_of(sample_brief)
    target = body
    for key in path:
        target = target[key]
    target["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        HandoffBrief.model_validate(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", 2),
        ("mode", "lukewarm"),
        ("severity", "sev0"),
        ("created_at", "2026-11-27T10:10:00"),  # naive: times must say their zone
        ("summary", ""),
    ],
)
def test_bad_values_are_refused(sample_brief: HandoffBrief, field: str, value: object) -> None:
    body = body_of(sample_brief)
    body[field] = value
    with pytest.raises(ValidationError, match=field):
        HandoffBrief.model_validate(body)


def test_only_customer_messages_carry_readings(sample_brief: HandoffBrief) -> None:
    body = body_of(sample_brief)
    bot = body["transcript"][1]
    assert bot["sender"] == "bot"
    bot["intent"] = "greet"
    with pytest.raises(ValidationError, match="only customer messages"):
        HandoffBrief.model_validate(body)


def test_a_brief_is_frozen(sample_brief: HandoffBrief) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        sample_brief.team = "general"  # type: ignore[misc]


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for model, definition in [("HandoffBrief", schema), *schema["$defs"].items()]:
        for name, prop in definition.get("properties", {}).items():
            found.append((model, name, prop))
    return found


def test_every_field_is_documented_in_the_json_schema() -> None:
    schema = brief_json_schema()
    undocumented = [
        f"{model}.{name}" for model, name, p in _properties(schema) if not p.get("description")
    ]
    assert not undocumented
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["schema_version"]["const"] == 1
    assert schema["additionalProperties"] is False


def test_committed_json_schema_is_up_to_date() -> None:
    committed = COMMITTED_SCHEMA.read_text(encoding="utf-8") if COMMITTED_SCHEMA.exists() else ""
    assert committed == render_brief_json_schema(), (
        f"{COMMITTED_SCHEMA.relative_to(REPO)} differs from the schema of handoff.brief.schema: "
        f"regenerate it with `{REGENERATE_COMMAND}` and commit it"
    )


def test_the_module_writes_the_schema(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "brief.schema.json"
    assert main([str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text == render_brief_json_schema() and text.endswith("}\n")
    assert json.loads(text) == brief_json_schema()
    assert main(["a", "b"]) == 2
