"""The brief builder and its summary: exact sentences for typical cases, properties for the rest."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from brief_facts import REQUEST_HUMAN, MakeDecision, at, replied, said, step

from handoff.brief.builder import (
    ANONYMOUS,
    BriefInputError,
    CustomerInfo,
    TranscriptEntry,
    build_brief,
    humanize,
    summarize,
)
from handoff.brief.schema import HandoffBrief, StepOutcome
from handoff.escalation.decision import (
    Category,
    EscalationDecision,
    ReasonHit,
    Severity,
    Tier,
)
from handoff.sentiment.reading import SentimentReading

ANA = CustomerInfo("cus_1001", "Ana Lima", Tier.PREMIUM)


def sentences(text: str) -> list[str]:
    """Split after a full stop followed by a capital (decimals such as 0.86 stay whole)."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)


def brief_of(decision: EscalationDecision, **overrides: Any) -> HandoffBrief:
    facts: dict[str, Any] = {
        "conversation_id": "conv-1",
        "customer": ANA,
        "channel": "web",
        "transcript": [said(1, "where is my card", "card_arrival", 0.3)],
        "decision": decision,
        "attempted_steps": [],
        "slots": {},
        "entities": [],
        "customer_notice": "A colleague will take over.",
        "now": at(10),
    }
    facts.update(overrides)
    return build_brief(**facts)


# ----------------------------------------------------------------------------- summary, exact


def test_summary_of_the_card_arrival_case(
    card_transcript: list[TranscriptEntry], security_decision: EscalationDecision
) -> None:
    summary = summarize(
        customer=ANA,
        transcript=card_transcript,
        decision=security_decision,
        attempted_steps=[step("card_delivery_status", "info"), step("freeze_card", "done")],
    )
    assert summary == (
        "Premium customer Ana Lima (cus_1001) has been asking about card arrival for 4 turns; "
        "frustration rose from 0.20 to 0.86. "
        "The assistant checked the card's delivery status (info) and froze the card (done). "
        "Escalated to the security team as Sev-2 because: the customer asked for a person; "
        "frustration 0.86 is above the premium threshold 0.60."
    )


def test_summary_of_an_anonymous_customer_the_assistant_did_not_understand(
    make_decision: MakeDecision,
) -> None:
    fallback = ReasonHit("repeated_fallback", 2, 2, "Two unclear messages in a row.", 1.0)
    summary = summarize(
        customer=None,
        transcript=[
            said(1, "asdf qwer", "nlu_fallback"),
            replied(2, "Sorry, could you rephrase that?"),
            said(3, "zxcv", "nlu_fallback"),
        ],
        decision=make_decision(reasons=(fallback,)),
        attempted_steps=[step("ask_rephrase", "info"), step("understand_message", "failed")],
    )
    assert summary == (
        "A customer who is not signed in has written 2 messages with no recognised topic. "
        "The assistant asked the customer to rephrase (info) and tried to understand the "
        "customer's messages (failed). "
        "Escalated to the general team as Sev-4 because: the assistant could not help the "
        "customer twice in a row."
    )


def test_summary_with_one_message_and_no_steps(make_decision: MakeDecision) -> None:
    churn = ReasonHit("churn_risk", "terminate_account", None, "Wants to close the account.")
    summary = summarize(
        customer=CustomerInfo("cus_1004", None, Tier.STANDARD),
        transcript=[said(1, "close my account", "terminate_account", 0.4)],
        decision=make_decision(reasons=(churn,), severity=Severity.SEV3, team="relationship"),
        attempted_steps=[],
    )
    assert summary == (
        "Standard customer cus_1004 asked about terminate account; frustration is 0.40. "
        "The assistant has not tried any resolution step yet. "
        "Escalated to the relationship team as Sev-3 because: the customer wants to close "
        "their account."
    )


def test_summary_of_a_risk_intent(make_decision: MakeDecision) -> None:
    understood = ReasonHit(
        "risk_intent",
        "financial_hardship 0.81",
        0.5,
        "intent financial_hardship has confidence 0.81, at or above the threshold 0.50",
        1.0,
    )
    signal = ReasonHit("rasa_signal", "financial_hardship", None, "the assistant handed over")
    summary = summarize(
        customer=CustomerInfo("cus_1004", None, Tier.STANDARD),
        transcript=[
            said(1, "where is my card", "card_arrival", 0.2),
            said(2, "this has left me unable to pay my rent", "financial_hardship", 0.5),
        ],
        decision=make_decision(
            reasons=(understood, signal), severity=Severity.SEV2, team="relationship"
        ),
        attempted_steps=[],
    )
    # The topic is still the card: the hardship says how the customer is, not what they need.
    assert sentences(summary)[0] == (
        "Standard customer cus_1004 has been asking about card arrival for 2 turns; frustration "
        "rose from 0.20 to 0.50."
    )
    assert sentences(summary)[-1] == (
        "Escalated to the relationship team as Sev-2 because: the customer describes financial "
        "hardship (financial_hardship 0.81, threshold 0.50); the assistant handed over as the "
        "customer describes financial hardship."
    )


def test_summary_of_a_fraud_report(make_decision: MakeDecision) -> None:
    understood = ReasonHit(
        "risk_intent",
        "report_fraud 0.88",
        0.6,
        "intent report_fraud has confidence 0.88, at or above the threshold 0.60",
        1.0,
    )
    signal = ReasonHit("rasa_signal", "fraud_report", None, "the assistant handed over")
    summary = summarize(
        customer=CustomerInfo("cus_1004", None, Tier.STANDARD),
        transcript=[
            said(
                1, "a caller said he was from the bank and I read him the code", "report_fraud", 0.3
            )
        ],
        decision=make_decision(
            reasons=(understood, signal), severity=Severity.SEV1, team="security"
        ),
        attempted_steps=[],
    )
    # Unlike the customer-care intents, the fraud is the customer's issue: it is the topic.
    assert sentences(summary)[0].startswith("Standard customer cus_1004 asked about report fraud")
    assert sentences(summary)[-1] == (
        "Escalated to the security team as Sev-1 because: the customer reports fraud, a scam or "
        "someone else in their account (report_fraud 0.88, threshold 0.60); the assistant "
        "handed over as the customer reports fraud, a scam or someone else in their account."
    )


@pytest.mark.parametrize(
    ("value", "clause"),
    [
        ("complain_about_assistant 0.97", "the customer says the assistant is not helping"),
        ("complain_about_service 0.70", "the customer complains about our service"),
        ("leave_bank 0.93", "the customer says they will leave us"),
        ("make_formal_complaint 0.90", "the customer wants to make a formal complaint"),
        ("asks_for_a_payment_holiday 0.80", "the assistant understood asks for a payment holiday"),
    ],
)
def test_risk_intent_reasons_for_agents(
    value: str, clause: str, make_decision: MakeDecision
) -> None:
    understood = ReasonHit("risk_intent", value, 0.6, "intent ... at or above the threshold", 1.0)
    summary = summarize(
        customer=ANA,
        transcript=[],
        decision=make_decision(reasons=(understood,)),
        attempted_steps=[],
    )
    assert summary.endswith(f"because: {clause} ({value}, threshold 0.60).")


def test_summary_groups_repeated_steps_and_caps_long_lists(make_decision: MakeDecision) -> None:
    steps = [
        step("transfer_status", "info"),
        step("transfer_status", "info"),
        step("transfer_status", "info"),
        step("freeze_card", "not_found"),
        step("refund_status", "needs_sign_in"),
        step("brand_new_step", "done"),
        step("top_up_status", "info"),
    ]
    reasons = tuple(
        ReasonHit(code, 1, None, f"Detail of {code}.")
        for code in ("request_human", "bot_error", "possible_fraud", "churn_risk")
    )
    summary = summarize(
        customer=ANA, transcript=[], decision=make_decision(reasons=reasons), attempted_steps=steps
    )
    assert sentences(summary) == [
        "Premium customer Ana Lima (cus_1001) has not written anything yet.",
        "The assistant checked the transfer 3 times (info), tried to freeze the card (not found), "
        "tried to check the refund (needs sign-in) and 2 other steps.",
        "Escalated to the general team as Sev-4 because: the customer asked for a person; the "
        "assistant could not reach the bank's systems; the customer does not recognise a "
        "payment; and 1 more.",
    ]


# ----------------------------------------------------------------------------- summary, properties

SITUATIONS: dict[str, dict[str, Any]] = {
    "anonymous, no sentiment": {
        "customer": ANONYMOUS,
        "transcript": [said(1, "hi", "greet"), said(2, "my transfer?", "transfer_timing")],
    },
    "name only, falling frustration": {
        "customer": CustomerInfo(None, "Ben Okafor", Tier.PLUS),
        "transcript": [
            said(1, "WHY was I charged twice", "transaction_charged_twice", 0.9),
            said(2, "ok thanks", "thank", 0.3),
        ],
    },
    "steady frustration, several topics": {
        "customer": ANA,
        "transcript": [
            said(1, "top up failed", "top_up_failed", 0.5),
            said(2, "and my card?", "card_arrival", 0.52),
            said(3, "top up again", "top_up_failed", 0.55),
        ],
        "attempted_steps": [step("top_up_status", "info")],
    },
    "unknown reason code with a detail": {
        "customer": ANA,
        "transcript": [said(1, "I'll sue you", "complaint", 0.7)],
        "reasons": (ReasonHit("legal_threat", True, None, "Customer mentions legal action."),),
    },
    "no reasons at all": {"customer": ANA, "transcript": [], "reasons": ()},
    "odd intent names": {
        "customer": ANA,
        "transcript": [
            said(1, "refund?", "Refund_not_showing_up"),
            said(2, "?", "reverted_card_payment?"),
        ],
    },
}


@pytest.mark.parametrize("name", SITUATIONS)
def test_summary_properties(name: str, make_decision: MakeDecision) -> None:
    case = dict(SITUATIONS[name])
    decision = make_decision(reasons=case.pop("reasons", (REQUEST_HUMAN,)), team="card_services")
    facts = {"attempted_steps": [], **case, "decision": decision}
    summary = summarize(**facts)

    assert 2 <= len(sentences(summary)) <= 3
    assert summary.endswith(".")
    assert "card services team" in summary
    assert "None" not in summary and "_" not in summary.replace("cus_1001", "")
    assert summarize(**facts) == summary  # deterministic


@pytest.mark.parametrize(
    ("frustrations", "clause"),
    [
        ((0.2, 0.86), "frustration rose from 0.20 to 0.86"),
        ((0.9, 0.3), "frustration fell from 0.90 to 0.30"),
        ((0.5, 0.55), "frustration stayed around 0.55"),
        ((0.4,), "frustration is 0.40"),
    ],
)
def test_frustration_clause(
    frustrations: tuple[float, ...], clause: str, make_decision: MakeDecision
) -> None:
    transcript = [said(i, "msg", "card_arrival", f) for i, f in enumerate(frustrations)]
    summary = summarize(
        customer=ANA, transcript=transcript, decision=make_decision(), attempted_steps=[]
    )
    assert clause in summary


def test_the_most_frequent_topic_wins_and_ties_go_to_the_latest(
    make_decision: MakeDecision,
) -> None:
    def topic_of(*intents: str) -> str:
        transcript = [said(i, "msg", intent) for i, intent in enumerate(intents)]
        return summarize(
            customer=ANA, transcript=transcript, decision=make_decision(), attempted_steps=[]
        )

    assert "asking about card arrival" in topic_of("card_arrival", "top_up_failed", "card_arrival")
    assert "asking about top up failed" in topic_of("card_arrival", "top_up_failed", "greet")


def test_an_unknown_reason_uses_the_engine_detail_as_a_clause(make_decision: MakeDecision) -> None:
    hit = ReasonHit("legal_threat", True, None, "Customer mentions legal action. Be careful.")
    summary = summarize(
        customer=ANA, transcript=[], decision=make_decision(reasons=(hit,)), attempted_steps=[]
    )
    assert summary.endswith("because: customer mentions legal action; be careful.")


@pytest.mark.parametrize(
    ("hit", "clause"),
    [
        (
            ReasonHit("high_frustration", 0.91, 0.6, "d"),
            "frustration 0.91 is above the premium threshold 0.60",
        ),
        (
            ReasonHit("high_frustration", 0.6, 0.6, "d"),
            "frustration 0.60 reached the premium threshold 0.60",
        ),
        (
            ReasonHit("rising_frustration", 0.42, 0.3, "d"),
            "frustration rose by 0.42 over the last few turns",
        ),
        (
            ReasonHit("negative_polarity", 0.93, 0.8, "d"),
            "negativity 0.93 is above the threshold 0.80",
        ),
        (ReasonHit("sustained_negative", 3, 3, "d"), "the customer's last 3 turns were negative"),
        (
            ReasonHit("low_confidence", 0.31, 0.5, "d"),
            "the assistant's confidence 0.31 is below the threshold 0.50",
        ),
        (
            ReasonHit("intent_loop", 3, 3, "d"),
            "the same topic came up in the customer's last 3 turns",
        ),
        (
            ReasonHit("repeated_fallback", 2, 2, "d"),
            "the assistant could not help the customer twice in a row",
        ),
        (
            ReasonHit("repeated_fallback", 3, 2, "d"),
            "the assistant could not help with 3 turns in a row",
        ),
        (
            ReasonHit("unresolved_frustration", 0.82, 0.75, "d"),
            "the customer was frustrated (0.82) and the assistant's answer did not help",
        ),
        (ReasonHit("risk_phrase", "lawyer", None, "d"), 'the customer wrote "lawyer"'),
        (
            ReasonHit("rasa_signal", "possible_fraud", None, "d"),
            "the assistant handed over as the customer does not recognise a payment",
        ),
        (
            ReasonHit("rasa_signal", "brand_new", None, "The assistant handed over."),
            "the assistant handed over",
        ),
        (
            ReasonHit("bot_error", "timeout after 10s", None, "d"),
            "the assistant could not reach the bank's systems",
        ),
        (ReasonHit("request_human", True, None, "d"), "the customer asked for a person"),
    ],
)
def test_each_engine_reason_reads_as_a_clause(
    hit: ReasonHit, clause: str, make_decision: MakeDecision
) -> None:
    summary = summarize(
        customer=ANA, transcript=[], decision=make_decision(reasons=(hit,)), attempted_steps=[]
    )
    assert summary.endswith(f"because: {clause}.")


def test_modifiers_are_not_reasons_for_the_handoff(make_decision: MakeDecision) -> None:
    tier = ReasonHit("premium_tier", "premium", None, "premium tier: warm handoff")
    only_modifier = summarize(
        customer=ANA, transcript=[], decision=make_decision(reasons=(tier,)), attempted_steps=[]
    )
    assert only_modifier.endswith("Escalated to the general team as Sev-4.")
    both = summarize(
        customer=ANA,
        transcript=[],
        decision=make_decision(reasons=(tier, REQUEST_HUMAN)),
        attempted_steps=[],
    )
    assert both.endswith("because: the customer asked for a person.")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("card_arrival", "card arrival"),
        ("Refund_not_showing_up", "refund not showing up"),
        ("reverted_card_payment?", "reverted card payment"),
        ("top-up_by_card_charge", "top up by card charge"),
        ("beneficiary_not_allowed", "beneficiary not allowed"),
        ("technical_support", "technical support"),
    ],
)
def test_humanize(name: str, words: str) -> None:
    assert humanize(name) == words


# ----------------------------------------------------------------------------- the brief's facts


def test_the_brief_carries_every_fact(sample_brief: HandoffBrief) -> None:
    brief = sample_brief
    assert brief.schema_version == 1
    assert brief.customer.id == "cus_1001" and brief.customer.tier is Tier.PREMIUM
    assert [m.seq for m in brief.transcript] == [1, 2, 3, 4, 5, 6, 7]
    assert all(m.sentiment is None for m in brief.transcript if m.sender == "bot")
    assert [(p.seq, p.frustration) for p in brief.sentiment_arc] == [
        (1, 0.2),
        (3, 0.45),
        (5, 0.6),
        (7, 0.86),
    ]
    assert brief.sentiment_arc[-1].negative == 0.86 and brief.sentiment_arc[-1].label == "negative"
    assert [i.intent for i in brief.intents] == ["card_arrival"] * 3 + ["request_human"]
    assert [s.outcome for s in brief.attempted_steps] == [StepOutcome.INFO, StepOutcome.DONE]
    assert [(e.entity, e.value) for e in brief.entities] == [("card_last_digits", "4242")]
    assert [r.code for r in brief.reasons] == ["request_human", "high_frustration"]
    assert brief.reasons[1].threshold == 0.6
    assert (brief.severity, brief.category, brief.team) == (
        Severity.SEV2,
        Category.SECURITY,
        "security",
    )
    assert brief.created_at == at(10)
    assert brief.summary.startswith("Premium customer Ana Lima (cus_1001)")


def test_transcript_is_ordered_by_seq(make_decision: MakeDecision) -> None:
    brief = brief_of(
        make_decision(), transcript=[said(3, "c"), replied(2, "b"), said(1, "a", "card_arrival")]
    )
    assert [m.text for m in brief.transcript] == ["a", "b", "c"]
    assert [m.seq for m in brief.intents] == [1]


def test_sla_due_times_come_from_the_decision_or_its_targets(make_decision: MakeDecision) -> None:
    from_targets = brief_of(make_decision()).sla
    assert from_targets.acknowledge_due == at(10) + timedelta(minutes=30)
    assert from_targets.resolve_due == at(10) + timedelta(hours=24)
    assert from_targets.customer_update_every_seconds == 300

    given = brief_of(make_decision(acknowledge_due=at(12), resolve_due=at(99))).sla
    assert (given.acknowledge_due, given.resolve_due) == (at(12), at(99))

    undated = brief_of(make_decision(decided_at=None), now=at(20)).sla
    assert undated.acknowledge_due == at(20) + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"escalate": False}, "build a brief only for a decision that escalates"),
        ({"team": None}, "build a brief only for a decision that escalates"),
        ({"sla": None}, "build a brief only for a decision that escalates"),
    ],
)
def test_a_decision_without_routing_is_refused(
    overrides: dict[str, Any], message: str, make_decision: MakeDecision
) -> None:
    with pytest.raises(BriefInputError, match=message):
        brief_of(make_decision(**overrides))


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"transcript": [said(1, "a"), said(1, "b")]}, "several messages with seq"),
        ({"attempted_steps": [step("freeze_card", "exploded")]}, "outcome"),
        ({"attempted_steps": [{"step": "freeze_card"}]}, "action"),
        ({"entities": [{"value": "4242"}]}, "'entity' and 'value'"),
        ({"now": at(10).replace(tzinfo=None)}, "timezone"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"transcript": [TranscriptEntry(1, "bot", "hi", at(1), intent="greet")]}, "only customer"),
    ],
)
def test_malformed_facts_are_refused_with_what_to_send(
    facts: dict[str, Any], message: str, make_decision: MakeDecision
) -> None:
    with pytest.raises(BriefInputError, match=message):
        brief_of(make_decision(), **facts)


def test_a_reading_without_a_negative_score_is_refused(make_decision: MakeDecision) -> None:
    odd = TranscriptEntry(1, "customer", "hm", at(1), SentimentReading("sad", {"sad": 1.0}, 0.5))
    with pytest.raises(BriefInputError, match="no 'negative' score"):
        brief_of(make_decision(), transcript=[odd])
