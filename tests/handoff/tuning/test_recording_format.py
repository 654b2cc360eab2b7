"""The recording file: every field of the engine's input, and back."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from fakes import ASKS, FURIOUS, recorded, shipped

from handoff.escalation.decision import Severity, Tier
from handoff.escalation.engine import decide
from handoff.escalation.signals import RasaSignal, TurnSignals
from handoff.tuning.labels import LabelError
from handoff.tuning.metrics import _AT
from handoff.tuning.recording import (
    read_recording,
    recording_policy,
    signals_from_json,
    signals_to_json,
    write_recording,
)

SIGNALLED = TurnSignals(
    text="someone used my card",
    intent="card_payment_not_recognised",
    confidence=0.9,
    rasa=RasaSignal("possible_fraud", "billing", Severity.SEV2, "disputes"),
    bot_error=None,
    steps_attempted=2,
)


@pytest.mark.parametrize("signals", [ASKS, FURIOUS, SIGNALLED, TurnSignals(bot_error="down")])
def test_signals_survive_json(signals: TurnSignals) -> None:
    assert signals_from_json(signals_to_json(signals)) == signals


def test_a_recording_file_reads_back(tmp_path: Path) -> None:
    items = [recorded("a", ASKS, FURIOUS, tier=Tier.PREMIUM), recorded("b", SIGNALLED)]
    buffer = StringIO()
    write_recording(items, buffer)
    path = tmp_path / "rec.jsonl"
    path.write_text(buffer.getvalue() + "\n")
    assert read_recording(path) == {"a": items[0], "b": items[1]}


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text('{"conversation_id": "a", "account_tier": "gold", "turns": []}\n')
    with pytest.raises(LabelError, match="line 1"):
        read_recording(path)


def test_the_recording_policy_never_hands_over_and_still_reports_every_trigger() -> None:
    decision = decide(ASKS, [], Tier.PREMIUM, recording_policy(shipped()), _AT)
    assert not decision.escalate and decision.reason_codes == ("request_human",)
    assert decide(ASKS, [], Tier.PREMIUM, shipped(), _AT).escalate
