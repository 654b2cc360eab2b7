"""The escalation policy: the shipped file, its models, and clear errors for broken files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from handoff.escalation import reasons
from handoff.escalation.decision import Category, Severity, Tier
from handoff.escalation.policy import (
    EscalationPolicy,
    MatrixCell,
    clear_policy_cache,
    load_escalation_policy,
    load_policy,
)
from handoff.exceptions import ConfigurationError
from handoff.settings import EscalationSettings, Settings

SHIPPED_POLICY = Path(__file__).resolve().parents[3] / "data" / "escalation.yml"

# --- the shipped file ----------------------------------------------------------------------

SLA_BY_SEVERITY = {
    Severity.SEV1: (timedelta(minutes=15), timedelta(hours=4), timedelta(minutes=5)),
    Severity.SEV2: (timedelta(hours=1), timedelta(hours=8), timedelta(minutes=15)),
    Severity.SEV3: (timedelta(hours=4), timedelta(hours=24), timedelta(minutes=30)),
    Severity.SEV4: (timedelta(hours=24), timedelta(hours=72), timedelta(minutes=60)),
}

TEAMS = {
    Category.TECHNICAL: ("technical_support", "technical_support", "general", "general"),
    Category.BILLING: ("disputes", "disputes", "disputes", "general"),
    Category.COMPLIANCE: ("compliance",) * 4,
    Category.RELATIONSHIP: ("relationship",) * 4,
    Category.SECURITY: ("security",) * 4,
}


def test_shipped_policy_loads(policy: EscalationPolicy) -> None:
    assert policy.version == 1
    assert policy.escalate_score == 1.0
    assert policy.unserved_intents == {"nlu_fallback", "out_of_scope"}


@pytest.mark.parametrize("category", list(Category), ids=str)
@pytest.mark.parametrize("severity", list(Severity), ids=str)
def test_shipped_matrix_has_every_cell(
    policy: EscalationPolicy, category: Category, severity: Severity
) -> None:
    cell = policy.matrix.cell(category, severity)

    assert cell.team == TEAMS[category][list(Severity).index(severity)]
    assert (cell.acknowledge, cell.resolve, cell.customer_update) == SLA_BY_SEVERITY[severity]


def test_shipped_thresholds(policy: EscalationPolicy) -> None:
    t = policy.thresholds
    assert (t.frustration.standard, t.frustration.plus, t.frustration.premium) == (
        0.75,
        0.70,
        0.60,
    )
    assert t.low_confidence == 0.5
    assert t.fallback_streak == 2
    assert t.negative_polarity == 0.80
    assert (t.rising_frustration.turns, t.rising_frustration.rise) == (3, 0.30)
    assert t.rising_frustration.floor == 0.50
    assert t.sustained_negative_turns == 3
    assert t.loop_turns == 3


def test_shipped_triggers_cover_every_code_and_hard_ones(policy: EscalationPolicy) -> None:
    hard = {code for code in reasons.TRIGGER_CODES if policy.triggers.rule(code).hard}

    assert hard == {
        reasons.REQUEST_HUMAN,
        reasons.RISK_INTENT,
        reasons.RISK_PHRASE,
        reasons.RASA_SIGNAL,
        reasons.BOT_ERROR,
    }


def test_every_reason_code_is_documented_in_the_file() -> None:
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    assert [code for code in reasons.REASON_CODES if code not in text] == []


def test_conversational_intents_never_count_as_topics(policy: EscalationPolicy) -> None:
    for intent in ("greet", "goodbye", "affirm", "deny", "thank", "bot_challenge"):
        assert not policy.is_topic(intent)
    assert not policy.is_topic("nlu_fallback")
    assert not policy.is_topic("out_of_scope")
    assert not policy.is_topic(None)
    assert policy.is_topic("card_arrival")
    # The customer-care risk intents say how the customer feels, not what about ...
    for intent in set(policy.risk_intents) - {"report_fraud"}:
        assert not policy.is_topic(intent), intent
    # ... while a report of fraud is the customer's issue, as compromised_card is.
    assert policy.is_topic("report_fraud")


def test_shipped_risk_intents(policy: EscalationPolicy) -> None:
    shipped = {
        intent: (rule.min_confidence, rule.category, rule.severity, rule.warm)
        for intent, rule in policy.risk_intents.items()
    }

    assert shipped == {
        "complain_about_assistant": (0.60, None, Severity.SEV3, False),
        "complain_about_service": (0.60, Category.RELATIONSHIP, Severity.SEV3, False),
        "leave_bank": (0.60, Category.RELATIONSHIP, Severity.SEV3, False),
        "make_formal_complaint": (0.60, Category.COMPLIANCE, Severity.SEV2, False),
        "financial_hardship": (0.50, Category.RELATIONSHIP, Severity.SEV2, True),
        "report_fraud": (0.60, Category.SECURITY, Severity.SEV1, False),
    }


def test_shipped_answer_first(policy: EscalationPolicy) -> None:
    rule = policy.answer_first

    assert rule is not None
    assert rule.min_confidence == 0.60
    assert rule.holds == {"high_frustration", "rising_frustration", "negative_polarity"}
    assert rule.accepted_by == {"affirm", "thank", "goodbye"}


def test_answer_first_is_optional(tmp_path: Path, raw_policy: dict[str, Any]) -> None:
    del raw_policy["answer_first"]
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")

    assert load_policy(path).answer_first is None


def test_risk_intents_may_name_any_intent(tmp_path: Path, raw_policy: dict[str, Any]) -> None:
    # The policy may be edited before the assistant learns an intent; it never fires until then.
    raw_policy["risk_intents"]["asks_for_a_mortgage_holiday"] = {
        "min_confidence": 0.7,
        "severity": "sev2",
    }
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")

    assert load_policy(path).risk_intents["asks_for_a_mortgage_holiday"].category is None


def test_risk_intents_are_optional(tmp_path: Path, raw_policy: dict[str, Any]) -> None:
    del raw_policy["risk_intents"]
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")

    assert load_policy(path).risk_intents == {}


@pytest.mark.parametrize(
    ("intent", "category"),
    [
        ("card_arrival", Category.TECHNICAL),
        ("pin_blocked", Category.TECHNICAL),
        ("atm_support", Category.TECHNICAL),
        ("change_pin", Category.TECHNICAL),
        ("transfer_fee_charged", Category.BILLING),
        ("extra_charge_on_statement", Category.BILLING),
        ("request_refund", Category.BILLING),
        ("Refund_not_showing_up", Category.BILLING),
        ("top_up_failed", Category.BILLING),
        ("exchange_rate", Category.BILLING),
        ("card_payment_not_recognised", Category.BILLING),
        ("compromised_card", Category.SECURITY),
        ("lost_or_stolen_card", Category.SECURITY),
        ("lost_or_stolen_phone", Category.SECURITY),
        ("report_fraud", Category.SECURITY),
        ("terminate_account", Category.RELATIONSHIP),
        ("verify_my_identity", Category.COMPLIANCE),
        ("unable_to_verify_identity", Category.COMPLIANCE),
        ("something_new", Category.TECHNICAL),
        (None, Category.TECHNICAL),
    ],
    ids=lambda value: str(value),
)
def test_intent_categories(
    policy: EscalationPolicy, intent: str | None, category: Category
) -> None:
    assert policy.intent_categories.category_for(intent) is category


@pytest.mark.parametrize(
    ("group", "text", "found"),
    [
        ("legal", "I will sue you", ("sue",)),
        ("legal", "no issue, thanks", ()),
        ("legal", "my LAWYER will hear of this", ("lawyer",)),
        ("legal", "I'm taking legal\n  action", ("legal action",)),
        ("legal", "the Ombudsman and my solicitor", ("ombudsman", "solicitor")),
        ("fraud", "my account was hacked!", ("hacked",)),
        ("fraud", "a fraudulent payment", ("fraudulent",)),
        ("fraud", "antifraud team", ()),
        ("churn", "Please close my account now", ("close my account",)),
        ("churn", "close my accounts", ()),
        ("repeat_contact", "this is the third time I ask", ("third time",)),
        ("repeat_contact", "it fails again and again", ("again and again",)),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_risk_phrases_match_whole_words_ignoring_case(
    policy: EscalationPolicy, group: str, text: str, found: tuple[str, ...]
) -> None:
    assert policy.risk_phrases[group].matches(text) == found


def test_shipped_risk_groups_carry_category_and_severity(policy: EscalationPolicy) -> None:
    groups = {name: (group.category, group.severity) for name, group in policy.risk_phrases.items()}
    assert groups == {
        "legal": (Category.COMPLIANCE, Severity.SEV2),
        "fraud": (Category.SECURITY, Severity.SEV1),
        "churn": (Category.RELATIONSHIP, Severity.SEV3),
        "repeat_contact": (Category.RELATIONSHIP, Severity.SEV3),
    }


@pytest.mark.parametrize(
    ("suggested", "category"),
    [
        ("general", Category.TECHNICAL),
        ("billing", Category.BILLING),
        ("Security", Category.SECURITY),
        ("something else", Category.TECHNICAL),
        (None, Category.TECHNICAL),
    ],
    ids=str,
)
def test_rasa_categories(
    policy: EscalationPolicy, suggested: str | None, category: Category
) -> None:
    assert policy.rasa.category_for(suggested) is category


@pytest.mark.parametrize(
    ("severity", "tier", "priority"),
    [
        (Severity.SEV1, Tier.PREMIUM, 10),
        (Severity.SEV1, Tier.STANDARD, 16),
        (Severity.SEV2, Tier.PLUS, 23),
        (Severity.SEV2, Tier.STANDARD, 26),
        (Severity.SEV3, Tier.PREMIUM, 30),
        (Severity.SEV4, Tier.STANDARD, 46),
    ],
    ids=str,
)
def test_priority_combines_severity_and_tier(
    policy: EscalationPolicy, severity: Severity, tier: Tier, priority: int
) -> None:
    assert policy.priority.of(severity, tier) == priority


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
        (" 3d ", timedelta(days=3)),
    ],
    ids=str,
)
def test_durations(text: str, expected: timedelta) -> None:
    cell = MatrixCell(team="t", acknowledge=text, resolve="30d", customer_update=text)

    assert cell.acknowledge == expected


@pytest.mark.parametrize("text", ["15", 15, "15 minutes", "-5m", "0m", "m"], ids=str)
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValidationError, match="duration"):
        MatrixCell(team="t", acknowledge=text, resolve="30d", customer_update="5m")


# --- broken files --------------------------------------------------------------------------


def _delete(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _set(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            _delete("matrix", "billing", "sev3"),
            "matrix.billing.sev3: Field required",
            id="missing-matrix-cell",
        ),
        pytest.param(
            _delete("matrix", "security"), "matrix.security: Field required", id="missing-row"
        ),
        pytest.param(
            _set(0.5, "thresholds", "low_confidance"),
            "thresholds.low_confidance: Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            _set(1.5, "thresholds", "low_confidence"),
            "thresholds.low_confidence: Input should be less than or equal to 1",
            id="probability-above-1",
        ),
        pytest.param(
            _set(-0.1, "handoff_mode", "warm_frustration"),
            "handoff_mode.warm_frustration: Input should be greater than or equal to 0",
            id="probability-below-0",
        ),
        pytest.param(
            _set(0.9, "thresholds", "frustration", "premium"),
            "premium <= plus <= standard",
            id="premium-threshold-above-standard",
        ),
        pytest.param(
            _set("  ", "matrix", "security", "sev1", "team"),
            "matrix.security.sev1.team: String should have at least 1 character",
            id="blank-team",
        ),
        pytest.param(
            _set("15", "matrix", "technical", "sev2", "acknowledge"),
            "matrix.technical.sev2.acknowledge: Value error, expected a duration",
            id="duration-without-unit",
        ),
        pytest.param(
            _set("10m", "matrix", "technical", "sev1", "resolve"),
            "must not be shorter than acknowledge",
            id="resolve-before-acknowledge",
        ),
        pytest.param(
            _set(["fraud"], "risk_phrases", "churn", "phrases"),
            "risk phrase 'fraud' is in both groups 'fraud' and 'churn'",
            id="phrase-in-two-groups",
        ),
        pytest.param(
            _set([], "risk_phrases", "churn", "phrases"),
            "risk_phrases.churn.phrases: Tuple should have at least 1 item",
            id="empty-phrase-group",
        ),
        pytest.param(
            _set("sev5", "triggers", "request_human", "severity"),
            "triggers.request_human.severity: Input should be 'sev1', 'sev2', 'sev3' or 'sev4'",
            id="unknown-severity",
        ),
        pytest.param(
            _set("finance", "intent_categories", "patterns", "card_*"),
            "intent_categories.patterns.card_*: Input should be 'technical'",
            id="unknown-category",
        ),
        pytest.param(
            _delete("triggers", "bot_error"),
            "triggers.bot_error: Field required",
            id="missing-trigger",
        ),
        pytest.param(
            _set(5, "priority", "severity", "sev3"),
            "points must rise from sev1 to sev4",
            id="priority-not-rising",
        ),
        pytest.param(
            _set(1.2, "risk_intents", "leave_bank", "min_confidence"),
            "risk_intents.leave_bank.min_confidence: Input should be less than or equal to 1",
            id="risk-intent-confidence-above-1",
        ),
        pytest.param(
            _set("urgent", "risk_intents", "financial_hardship", "severity"),
            "risk_intents.financial_hardship.severity: Input should be 'sev1', 'sev2', 'sev3' "
            "or 'sev4'",
            id="risk-intent-unknown-severity",
        ),
        pytest.param(
            _set("complaints", "risk_intents", "make_formal_complaint", "category"),
            "risk_intents.make_formal_complaint.category: Input should be 'technical'",
            id="risk-intent-unknown-category",
        ),
        pytest.param(
            _set(0.6, "risk_intents", "leave_bank", "min_confidance"),
            "risk_intents.leave_bank.min_confidance: Extra inputs are not permitted",
            id="risk-intent-misspelt-key",
        ),
        pytest.param(
            _delete("risk_intents", "leave_bank", "min_confidence"),
            "risk_intents.leave_bank.min_confidence: Field required",
            id="risk-intent-without-confidence",
        ),
        pytest.param(
            _set({"min_confidence": 0.5, "severity": "sev3"}, "risk_intents", "nlu_fallback"),
            "risk_intents.nlu_fallback: 'nlu_fallback' is an unserved intent",
            id="risk-intent-that-is-unserved",
        ),
        pytest.param(
            _delete("triggers", "risk_intent"),
            "triggers.risk_intent: Field required",
            id="missing-risk-intent-trigger",
        ),
        pytest.param(
            _set(["request_human", "high_frustration"], "answer_first", "holds"),
            "answer_first.holds: ['request_human'] are hard triggers",
            id="answer-first-holds-a-hard-trigger",
        ),
        pytest.param(
            _set(["high_frustation"], "answer_first", "holds"),
            "['high_frustation'] are not triggers",
            id="answer-first-holds-an-unknown-trigger",
        ),
        pytest.param(
            _set([], "answer_first", "holds"),
            "answer_first.holds: Frozenset should have at least 1 item",
            id="answer-first-holds-nothing",
        ),
        pytest.param(
            _delete("triggers", "unresolved_frustration"),
            "triggers.unresolved_frustration: Field required",
            id="missing-unresolved-frustration-trigger",
        ),
        pytest.param(_set(2, "version"), "version: Input should be 1", id="unknown-version"),
        pytest.param(
            _set(0, "escalate_score"),
            "escalate_score: Input should be greater than 0",
            id="zero-escalate-score",
        ),
        pytest.param(
            _set(1, "thresholds", "loop_turns"),
            "thresholds.loop_turns: Input should be greater than or equal to 2",
            id="loop-of-one",
        ),
    ],
)
def test_invalid_policy_names_file_and_key(
    tmp_path: Path,
    raw_policy: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    change(raw_policy)
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)

    message = str(caught.value)
    assert f"the escalation policy {path} is invalid" in message
    assert expected in message
    assert isinstance(caught.value.__cause__, ValidationError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("thresholds: [unclosed", "is not valid YAML", id="not-yaml"),
        pytest.param(
            "version: 1\nversion: 1\n", "found duplicate key 'version'", id="duplicate-key"
        ),
        pytest.param("- a\n- b\n", "must be a mapping", id="a-list"),
        pytest.param("", "must be a mapping", id="empty"),
    ],
)
def test_unreadable_policy_names_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "escalation.yml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigurationError, match=expected) as caught:
        load_policy(path)

    assert str(path) in str(caught.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"

    with pytest.raises(ConfigurationError, match="cannot read the escalation policy") as caught:
        load_policy(path)

    assert str(path) in str(caught.value)


# --- settings ------------------------------------------------------------------------------


def test_settings_point_at_the_shipped_file() -> None:
    assert EscalationSettings().policy_file == SHIPPED_POLICY


def test_load_escalation_policy_reads_once_per_file(
    tmp_path: Path, raw_policy: dict[str, Any]
) -> None:
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")
    settings = Settings(escalation=EscalationSettings(policy_file=path))
    clear_policy_cache()
    try:
        first = load_escalation_policy(settings)
        raw_policy["escalate_score"] = 2.0
        path.write_text(yaml.safe_dump(raw_policy, sort_keys=False), encoding="utf-8")

        assert load_escalation_policy(settings) is first
        clear_policy_cache()
        assert load_escalation_policy(settings).escalate_score == 2.0
    finally:
        clear_policy_cache()
