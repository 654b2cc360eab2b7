"""The domain, the rules and the action code agree with each other."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk.executor import ActionExecutor

from actions.base import AccountAction, general_response_for
from actions.escalation import CARE_INTENTS, HAND_OVER_AT_ONCE_INTENTS, HINTS_BY_REASON

REPO = Path(__file__).resolve().parents[2]


def _registered_actions() -> dict:
    """Action name -> action instance, as the rasa-sdk action server registers them."""
    executor = ActionExecutor()
    executor.register_package("actions")
    return {name: run.__self__ for name, run in executor.actions.items()}


ACCOUNT_ACTIONS = [a for a in _registered_actions().values() if isinstance(a, AccountAction)]


def _load(relative: str) -> dict:
    return yaml.safe_load((REPO / relative).read_text(encoding="utf-8"))


def test_every_registered_action_is_in_the_domain():
    assert set(_registered_actions()) == set(_load("bot/domain/account.yml")["actions"])


def test_every_account_intent_has_general_guidance(domain_responses):
    for action in ACCOUNT_ACTIONS:
        for intent in action.intents:
            assert general_response_for(intent) in domain_responses, intent


def test_every_handoff_response_exists(domain_responses):
    for hint in HINTS_BY_REASON.values():
        assert hint.response in domain_responses


def test_rules_map_each_account_intent_to_its_action():
    rules = _load("data/rules/account.yml")["rules"]
    mapping = {
        rule["steps"][0]["intent"]: [s["action"] for s in rule["steps"][1:]] for rule in rules
    }
    expected = {intent: [action.name()] for action in ACCOUNT_ACTIONS for intent in action.intents}
    expected["request_human"] = ["action_request_human"]
    expected["nlu_fallback"] = ["action_handle_fallback"]
    expected |= {intent: ["action_hand_over_with_care"] for intent in HAND_OVER_AT_ONCE_INTENTS}

    assert mapping == expected


def test_care_intents_exist_in_the_domain_and_the_nlu_data():
    intents = set(_load("bot/domain/intents.yml")["intents"])
    examples = {block["intent"] for block in _load("data/nlu/customer_care.yml")["nlu"]}
    assert intents >= CARE_INTENTS
    # The file also draws the border of terminate_account (leaving and asking for the closure).
    assert examples == CARE_INTENTS | {"terminate_account"}


def test_report_fraud_exists_in_the_domain_and_the_nlu_data():
    intents = set(_load("bot/domain/intents.yml")["intents"])
    examples = {block["intent"] for block in _load("data/nlu/security.yml")["nlu"]}
    assert "report_fraud" in intents
    assert examples == {"report_fraud"}


def test_account_intents_exist_in_the_domain():
    intents = set(_load("bot/domain/intents.yml")["intents"])
    for action in ACCOUNT_ACTIONS:
        assert set(action.intents) <= intents, action.name()


def test_account_actions_are_the_eleven_expected():
    assert len(ACCOUNT_ACTIONS) == 11
