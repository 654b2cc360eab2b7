"""The handoff brief: everything the agent console shows when a conversation is handed over.

A versioned, self-documenting pydantic model. The brief is built once, by
:func:`handoff.brief.builder.build_brief`, and never changed afterwards, so every model is
frozen and refuses unknown fields: a console that sends back or stores a brief with a field this
version does not know gets a validation error instead of silently losing it.

The JSON Schema generated from these models (``docs/handoff-brief.schema.json``, see
:mod:`handoff.brief.json_schema`) is the contract with the agent console.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

from handoff.escalation.decision import Category, HandoffMode, Severity, Tier

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Literal[1] = 1

Sender = Literal["customer", "bot", "agent", "system"]


class StepOutcome(StrEnum):
    """How one of the assistant's resolution steps ended (as in ``actions/attempted_steps.py``)."""

    DONE = "done"
    FAILED = "failed"
    INFO = "info"
    NEEDS_SIGN_IN = "needs_sign_in"
    NOT_FOUND = "not_found"


class _Model(BaseModel):
    # Built once, never edited; an unknown field is a mistake, not an extension.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerBrief(_Model):
    """Who the customer is, as far as the service knows."""

    id: str | None = Field(
        description="The bank's customer id, or null when the customer is not signed in."
    )
    name: str | None = Field(description="The customer's full name, or null when unknown.")
    tier: Tier = Field(description="The account tier; anonymous customers count as standard.")


class MessageSentiment(_Model):
    """The sentiment classifier's reading of one customer message."""

    label: str = Field(description="The most probable polarity: negative, neutral or positive.")
    scores: dict[str, float] = Field(
        description="The probability of every polarity label; they sum to 1."
    )
    frustration: float = Field(ge=0, le=1, description="Probability the customer is frustrated.")
    irony: float | None = Field(
        ge=0, le=1, description="Probability the message is ironic; null when not modelled."
    )


class TranscriptMessage(_Model):
    """One message of the conversation, in order."""

    seq: int = Field(ge=0, description="Position in the conversation, increasing.")
    sender: Sender = Field(description="Who wrote the message.")
    text: str = Field(description="The message exactly as shown in the conversation.")
    at: AwareDatetime = Field(description="When the message was sent.")
    sentiment: MessageSentiment | None = Field(
        description="The reading of a customer message; null for other senders or if unscored."
    )
    intent: str | None = Field(
        description="The intent the assistant recognised in a customer message, or null."
    )
    confidence: float | None = Field(
        ge=0, le=1, description="The assistant's confidence in that intent, or null."
    )

    @model_validator(mode="after")
    def _readings_only_on_customer_messages(self) -> TranscriptMessage:
        # Only what the customer wrote is classified; a reading on a bot message would be
        # plotted in the customer's sentiment arc.
        if self.sender != "customer" and (
            self.sentiment is not None or self.intent is not None or self.confidence is not None
        ):
            raise ValueError(
                f"message {self.seq} from {self.sender}: only customer messages carry "
                "sentiment, intent and confidence; send null for the others"
            )
        return self


class SentimentPoint(_Model):
    """One point of the sentiment arc: one scored customer message."""

    seq: int = Field(ge=0, description="The customer message's position in the transcript.")
    at: AwareDatetime = Field(description="When the customer sent the message.")
    negative: float = Field(ge=0, le=1, description="Probability of negative polarity.")
    frustration: float = Field(ge=0, le=1, description="Probability of frustration.")
    label: str = Field(description="The most probable polarity label.")


class IntentPoint(_Model):
    """The intent the assistant recognised in one customer turn."""

    seq: int = Field(ge=0, description="The customer message's position in the transcript.")
    intent: str = Field(description="The intent name, as the assistant's NLU names it.")
    confidence: float | None = Field(
        ge=0, le=1, description="The NLU's confidence in that intent, or null if not reported."
    )


class AttemptedStepBrief(_Model):
    """One resolution step the assistant already ran."""

    action: str = Field(description="The assistant's action that ran the step.")
    step: str = Field(description="The step's machine name, e.g. freeze_card.")
    outcome: StepOutcome = Field(description="How the step ended.")
    summary: str = Field(description="What the step did, in the action's words.")
    at: AwareDatetime = Field(description="When the step ran.")


class EntityBrief(_Model):
    """One entity the assistant extracted from the customer's messages."""

    entity: str = Field(description="The entity type, e.g. card_last_digits.")
    value: JsonValue = Field(description="The extracted value.")


class ReasonBrief(_Model):
    """One escalation trigger that fired, strongest first."""

    code: str = Field(description="Machine-readable reason code, e.g. request_human.")
    value: bool | int | float | str = Field(description="The value the engine observed.")
    threshold: int | float | str | None = Field(
        description="The threshold crossed, or null for triggers that are facts, not comparisons."
    )
    detail: str = Field(description="One human-readable sentence explaining the trigger.")


class SlaBrief(_Model):
    """The service-level targets of this handoff."""

    acknowledge_due: AwareDatetime = Field(
        description="When an agent must have acknowledged the handoff."
    )
    resolve_due: AwareDatetime = Field(description="When the case must be resolved.")
    customer_update_every_seconds: int = Field(
        gt=0, description="How often a waiting customer must get an update, in seconds."
    )


class HandoffBrief(_Model):
    """What the agent receives when a conversation is handed over: facts, routing and summary."""

    schema_version: Literal[1] = Field(
        description="Version of this schema; changes that break readers increase it."
    )
    conversation_id: str = Field(min_length=1, description="The conversation being handed over.")
    customer: CustomerBrief = Field(description="Who the customer is.")
    channel: str = Field(min_length=1, description="Where the customer is writing from, e.g. web.")
    transcript: tuple[TranscriptMessage, ...] = Field(
        description="Every message of the conversation, in order."
    )
    sentiment_arc: tuple[SentimentPoint, ...] = Field(
        description="One point per scored customer message, in order."
    )
    intents: tuple[IntentPoint, ...] = Field(
        description="The recognised intent of each customer turn that had one, in order."
    )
    attempted_steps: tuple[AttemptedStepBrief, ...] = Field(
        description="What the assistant already tried, in order, with outcomes."
    )
    slots: dict[str, JsonValue] = Field(description="The assistant's slot values by name.")
    entities: tuple[EntityBrief, ...] = Field(
        description="Entities extracted from the customer's messages."
    )
    reasons: tuple[ReasonBrief, ...] = Field(
        description="Every escalation trigger that fired, strongest first."
    )
    score: float = Field(description="The escalation score the fired triggers added up to.")
    severity: Severity = Field(description="Urgency; sev1 is the most urgent.")
    category: Category = Field(description="What kind of problem this is.")
    team: str = Field(min_length=1, description="The team the conversation is routed to.")
    mode: HandoffMode = Field(
        description="warm: the agent reads the brief and introduces themselves; cold: straight in."
    )
    priority: int = Field(description="Queue priority; lower is more urgent.")
    sla: SlaBrief = Field(description="Service-level due times.")
    created_at: AwareDatetime = Field(description="When the brief was built.")
    summary: str = Field(
        min_length=1, description="Two or three plain-language sentences built from the facts."
    )
    customer_notice: str = Field(
        min_length=1, description="Exactly what the customer was told about the transfer."
    )
