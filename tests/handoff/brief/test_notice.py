"""What the customer is told: plain reasons, honest waits, never an internal code or score."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from brief_facts import MakeDecision

from handoff.brief.notice import customer_notice, queue_update, wait_phrase
from handoff.escalation.decision import Category, HandoffMode, ReasonHit, SlaTargets

# The engine's codes (handoff/escalation/reasons.py), the assistant's own (actions/escalation.py)
# and codes the notice does not know.
REASON_CODES = [
    "request_human",
    "risk_phrase",
    "high_frustration",
    "rising_frustration",
    "negative_polarity",
    "sustained_negative",
    "repeated_fallback",
    "low_confidence",
    "intent_loop",
    "unresolved_frustration",
    "rasa_signal",
    "bot_error",
    "premium_tier",
    "security_risk",
    "possible_fraud",
    "churn_risk",
    "risk_intent",
    "assistant_complaint",
    "service_complaint",
    "leaving_bank",
    "formal_complaint",
    "financial_hardship",
    "fraud_report",
    "legal_threat",
    "xyz_internal_code",
]


def hit(code: str) -> ReasonHit:
    # Value, threshold and detail full of numbers and jargon that must not reach the customer.
    return ReasonHit(code, 0.8642, 0.6, f"{code}: score 0.8642 above threshold 0.60", 0.9)


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("request_human", "because you asked to speak to a person."),
        ("repeated_fallback", "because I wasn't able to understand what you need."),
        ("security_risk", "because your card may have been compromised."),
        ("possible_fraud", "because there's a payment you don't recognise."),
        ("churn_risk", "because you'd like to close your account."),
        ("bot_error", "because I can't reach our banking systems right now."),
        ("high_frustration", "because I haven't been able to sort this out for you."),
        ("rising_frustration", "because I haven't been able to sort this out for you."),
        ("intent_loop", "because I haven't been able to sort this out for you."),
        ("low_confidence", "because I wasn't able to understand what you need."),
        ("premium_tier", "because you asked to speak to a person."),  # a modifier: skipped
    ],
)
def test_the_reason_is_told_in_plain_words(
    code: str, phrase: str, make_decision: MakeDecision
) -> None:
    notice = customer_notice(
        decision=make_decision(reasons=(hit(code), hit("request_human"))),
        team_display_name="Support",
        queue_position=2,
        wait_estimate=timedelta(minutes=5),
        agents_available=True,
    )
    assert notice.startswith(f"I'm passing you to a colleague from our Support team {phrase}")


@pytest.mark.parametrize(
    ("assistant_reason", "phrase"),
    [
        ("security_risk", "because your card may have been compromised."),
        ("possible_fraud", "because there's a payment you don't recognise."),
        ("churn_risk", "because you'd like to close your account."),
        ("request_human", "because you asked to speak to a person."),
        ("something_new", "because this needs one of our security specialists."),
    ],
)
def test_the_assistants_own_reason_is_told_in_plain_words(
    assistant_reason: str, phrase: str, make_decision: MakeDecision
) -> None:
    signal = ReasonHit("rasa_signal", assistant_reason, None, "the assistant handed over", 1.0)
    notice = customer_notice(
        decision=make_decision(reasons=(signal,), category=Category.SECURITY),
        team_display_name="Security",
        queue_position=None,
        wait_estimate=None,
        agents_available=True,
    )
    assert phrase in notice
    assert assistant_reason not in notice


CARE_NOTICES = {
    "complain_about_assistant": (
        "I'm sorry I haven't been much help. I'm passing you to a colleague from our Support "
        "team because a person can sort this out better than I can."
    ),
    "complain_about_service": (
        "I'm sorry about this. I'm passing you to a colleague from our Support team because "
        "you're unhappy with the service you've had from us, and they can put things right."
    ),
    "leave_bank": (
        "I'm sorry about this. I'm passing you to a colleague from our Support team because "
        "you're thinking of leaving us, and they'd like to hear what went wrong."
    ),
    "make_formal_complaint": (
        "I'm sorry you've had reason to complain. I'm passing you to a colleague from our "
        "Support team because you'd like to make a formal complaint, and they'll record it and "
        "give you a reference."
    ),
    "financial_hardship": (
        "Thank you for telling me, and I'm sorry you're going through this. I'm passing you to "
        "a colleague from our Support team because you've told me things are difficult "
        "financially, and they can talk through the support we offer."
    ),
    # Not a customer-care intent, but acknowledged first too: what not to do while waiting.
    "report_fraud": (
        "I'm sorry, this could be fraud: please don't share any more codes or passwords, or "
        "send any more money, while you wait. I'm passing you to a colleague from our Support "
        "team because you've told me about possible fraud, and they can protect your account."
    ),
}
# The assistant's reason for each customer-care intent (actions/escalation.py).
CARE_REASONS = {
    "complain_about_assistant": "assistant_complaint",
    "complain_about_service": "service_complaint",
    "leave_bank": "leaving_bank",
    "make_formal_complaint": "formal_complaint",
    "financial_hardship": "financial_hardship",
    "report_fraud": "fraud_report",
}


@pytest.mark.parametrize("intent", sorted(CARE_NOTICES))
def test_a_risk_intent_is_acknowledged_then_explained(
    intent: str, make_decision: MakeDecision
) -> None:
    understood = ReasonHit("risk_intent", f"{intent} 0.93", 0.6, "intent ... at or above", 1.0)
    signal = ReasonHit("rasa_signal", "request_human", None, "the assistant handed over", 1.0)
    notice = customer_notice(
        decision=make_decision(reasons=(understood, signal)),
        team_display_name="Support",
        queue_position=2,
        wait_estimate=timedelta(minutes=5),
        agents_available=True,
    )
    assert notice.startswith(CARE_NOTICES[intent] + " ")
    assert intent not in notice and "0.93" not in notice


@pytest.mark.parametrize("intent", sorted(CARE_NOTICES))
def test_the_assistants_care_reason_reads_as_its_intent(
    intent: str, make_decision: MakeDecision
) -> None:
    signal = ReasonHit("rasa_signal", CARE_REASONS[intent], None, "the assistant handed over")
    notice = customer_notice(
        decision=make_decision(reasons=(signal,)),
        team_display_name="Support",
        queue_position=None,
        wait_estimate=None,
        agents_available=True,
    )
    assert notice.startswith(CARE_NOTICES[intent] + " ")


def test_an_unknown_risk_intent_falls_back_to_the_category(make_decision: MakeDecision) -> None:
    understood = ReasonHit("risk_intent", "asks_for_a_payment_holiday 0.80", 0.7, "intent ...")
    notice = customer_notice(
        decision=make_decision(reasons=(understood,), category=Category.RELATIONSHIP),
        team_display_name="Relationship",
        queue_position=None,
        wait_estimate=None,
        agents_available=True,
    )
    assert notice.startswith(
        "I'm passing you to a colleague from our Relationship team because this is best "
        "handled by a person."
    )


def test_a_risk_phrase_is_never_repeated_back(make_decision: MakeDecision) -> None:
    risk = ReasonHit("risk_phrase", "lawyer", None, "the message says 'lawyer' (risk group legal)")
    notice = customer_notice(
        decision=make_decision(reasons=(risk,), category=Category.COMPLIANCE),
        team_display_name="Compliance",
        queue_position=None,
        wait_estimate=None,
        agents_available=True,
    )
    assert "because this needs a specialist to review it." in notice
    assert "lawyer" not in notice


@pytest.mark.parametrize(
    ("category", "phrase"),
    [
        (Category.SECURITY, "this needs one of our security specialists"),
        (Category.BILLING, "this needs someone who can look into the payments on your account"),
        (Category.COMPLIANCE, "this needs a specialist to review it"),
        (Category.RELATIONSHIP, "this is best handled by a person"),
        (Category.TECHNICAL, "I wasn't able to resolve this myself"),
    ],
)
def test_an_unknown_reason_falls_back_to_the_category(
    category: Category, phrase: str, make_decision: MakeDecision
) -> None:
    decision = make_decision(reasons=(hit("legal_threat"),), category=category)
    notice = customer_notice(
        decision=decision,
        team_display_name="Support",
        queue_position=None,
        wait_estimate=None,
        agents_available=True,
    )
    assert f"because {phrase}." in notice


@pytest.mark.parametrize("code", REASON_CODES)
@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("agents_available", [True, False])
def test_no_internal_code_or_score_leaks_into_the_notice(
    code: str, category: Category, agents_available: bool, make_decision: MakeDecision
) -> None:
    decision = make_decision(reasons=(hit(code), hit("high_frustration")), category=category)
    notice = customer_notice(
        decision=decision,
        team_display_name="Card Security",
        queue_position=4,
        wait_estimate=timedelta(minutes=12),
        agents_available=agents_available,
    )
    assert "_" not in notice
    assert not re.search(r"\d\.\d", notice), "a score or threshold reached the customer"
    for word in ("threshold", "score", "sev", "frustrat", "priority", code):
        assert word not in notice.lower()
    assert 3 <= notice.count(".") <= 5


def test_the_whole_notice_when_agents_are_available(make_decision: MakeDecision) -> None:
    notice = customer_notice(
        decision=make_decision(),
        team_display_name="Disputes",
        queue_position=3,
        wait_estimate=timedelta(minutes=7, seconds=20),
        agents_available=True,
    )
    assert notice == (
        "I'm passing you to a colleague from our Disputes team because you asked to speak to "
        "a person. They'll read our conversation first and then introduce themselves, so "
        "there's no need to repeat anything. You're number 3 in the queue, and the wait is "
        "about 7 minutes."
    )


def test_no_agent_available_gives_the_expected_response_time(
    make_decision: MakeDecision,
) -> None:
    sla = SlaTargets(timedelta(hours=2), timedelta(days=1), timedelta(minutes=15))
    notice = customer_notice(
        decision=make_decision(sla=sla, mode=HandoffMode.COLD),
        team_display_name="Security team",
        queue_position=1,
        wait_estimate=timedelta(minutes=1),  # not promised: nobody is online to meet it
        agents_available=False,
    )
    assert notice == (
        "I'm passing you to a colleague from our Security team because you asked to speak to "
        "a person. They'll see our conversation so far and pick up from here, so there's no "
        "need to repeat anything. Nobody from the team is available right now, so it will take "
        "longer than usual: expect a reply within 2 hours. You can leave a message here, and "
        "they'll read it as soon as they pick up your conversation."
    )


@pytest.mark.parametrize(
    ("acknowledge", "bound"),
    [
        (timedelta(minutes=4), "within 4 minutes"),
        (timedelta(minutes=30), "within 30 minutes"),
        (timedelta(minutes=42), "within 45 minutes"),  # rounded up: never promise less
        (timedelta(hours=1), "within an hour"),
        (timedelta(minutes=80), "within an hour and a half"),
        (timedelta(hours=4), "within 4 hours"),
        (timedelta(hours=24), "within 24 hours"),
        (timedelta(days=3), "within 3 days"),
    ],
)
def test_the_no_agent_notice_rounds_the_target_up(
    acknowledge: timedelta, bound: str, make_decision: MakeDecision
) -> None:
    sla = SlaTargets(acknowledge, timedelta(days=5), timedelta(minutes=15))
    notice = customer_notice(
        decision=make_decision(sla=sla),
        team_display_name="Support",
        queue_position=None,
        wait_estimate=None,
        agents_available=False,
    )
    assert f"expect a reply {bound}." in notice
    assert "leave a message" in notice


def test_no_agent_and_no_sla_is_still_honest(make_decision: MakeDecision) -> None:
    notice = customer_notice(
        decision=make_decision(sla=None),
        team_display_name="Support",
        queue_position=None,
        wait_estimate=None,
        agents_available=False,
    )
    assert "Nobody from the team is available right now" in notice
    assert "leave a message" in notice


@pytest.mark.parametrize(
    ("position", "wait", "sentence"),
    [
        (1, timedelta(minutes=2), "You're next in the queue, and the wait is about 2 minutes."),
        (5, None, "You're number 5 in the queue; they'll be with you as soon as they're free."),
        (None, timedelta(minutes=55), "The wait is within the hour."),
        (None, None, "They'll be with you as soon as they're free."),
    ],
)
def test_the_wait_sentence(
    position: int | None, wait: timedelta | None, sentence: str, make_decision: MakeDecision
) -> None:
    notice = customer_notice(
        decision=make_decision(),
        team_display_name="Support",
        queue_position=position,
        wait_estimate=wait,
        agents_available=True,
    )
    assert notice.endswith(sentence)


@pytest.mark.parametrize(
    ("position", "wait", "update"),
    [
        (
            1,
            timedelta(seconds=40),
            "Thanks for waiting. You're next in the queue, and the wait is less than a minute.",
        ),
        (
            3,
            timedelta(minutes=14),
            "Thanks for waiting. You're now number 3 in the queue, and "
            "the wait is about 15 minutes.",
        ),
        (2, None, "Thanks for waiting. You're now number 2 in the queue."),
    ],
)
def test_queue_update(position: int, wait: timedelta | None, update: str) -> None:
    assert queue_update(position, wait) == update


def test_a_queue_position_below_one_is_refused(make_decision: MakeDecision) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        queue_update(0, None)
    with pytest.raises(ValueError, match="1 or more"):
        customer_notice(
            decision=make_decision(),
            team_display_name="Support",
            queue_position=0,
            wait_estimate=None,
            agents_available=True,
        )


@pytest.mark.parametrize(
    ("wait", "phrase"),
    [
        (timedelta(seconds=-30), "less than a minute"),
        (timedelta(0), "less than a minute"),
        (timedelta(seconds=59), "less than a minute"),
        (timedelta(seconds=60), "about a minute"),
        (timedelta(seconds=89), "about a minute"),
        (timedelta(seconds=90), "about 2 minutes"),
        (timedelta(minutes=5), "about 5 minutes"),
        (timedelta(minutes=9, seconds=29), "about 9 minutes"),
        (timedelta(minutes=12), "about 10 minutes"),
        (timedelta(minutes=13), "about 15 minutes"),
        (timedelta(minutes=47), "about 45 minutes"),
        (timedelta(minutes=50), "within the hour"),
        (timedelta(minutes=60), "within the hour"),
        (timedelta(minutes=70), "about an hour"),
        (timedelta(minutes=95), "about an hour and a half"),
        (timedelta(minutes=125), "about 2 hours"),
        (timedelta(minutes=150), "about 2 and a half hours"),
        (timedelta(hours=5, minutes=20), "about 5 hours"),
        (timedelta(hours=30), "about 30 hours"),
        (timedelta(days=3, hours=5), "about 3 days"),
    ],
)
def test_wait_phrase(wait: timedelta, phrase: str) -> None:
    assert wait_phrase(wait) == phrase
