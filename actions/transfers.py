"""Transfer actions: where a transfer is, why it failed, cancelling it, incoming money."""

from __future__ import annotations

import logging
from typing import Any

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn
from actions.formatting import age, day, money, rail_name, reason_or_unknown, words
from demobank.models import Transfer, TransferDirection, TransferStatus
from demobank.queries import cancel_transfer, is_cancellable, latest_transfer

logger = logging.getLogger(__name__)

CANCEL_STEP = "cancel_transfer"


def transfer_values(transfer: Transfer, turn: Turn) -> dict[str, Any]:
    """The template values every transfer response can use."""
    return {
        "transfer_id": transfer.id,
        "amount": money(transfer.amount, transfer.currency),
        "counterparty": transfer.counterparty,
        "rail": rail_name(transfer.rail),
        "status": words(transfer.status),
        "sent_on": day(transfer.created_at),
        "since": day(transfer.created_at),
        "age": age(transfer.created_at, turn.now),
        "expected_by": day(transfer.expected_by),
        "reason": reason_or_unknown(transfer.failure_reason),
    }


def transfer_summary(transfer: Transfer, turn: Turn) -> str:
    """``looked up transfer T-1009: pending since 2 days`` (plus the reason if it failed)."""
    summary = (
        f"looked up transfer {transfer.id}: {words(transfer.status)} since "
        f"{age(transfer.created_at, turn.now)}"
    )
    if transfer.failure_reason:
        summary += f" ({transfer.failure_reason})"
    return summary


class ActionTransferStatus(AccountAction):
    """Status of the customer's latest relevant transfer, and cancelling a pending one."""

    intents = (
        "pending_transfer",
        "transfer_not_received_by_recipient",
        "failed_transfer",
        "declined_transfer",
        "cancel_transfer",
        "balance_not_updated_after_bank_transfer",
    )
    step = "transfer_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_transfer_status"

    def handle(self, turn: Turn) -> None:
        """Look up the transfer ``turn.intent`` is about and report on it."""
        if turn.intent == "cancel_transfer":
            self._cancel(turn)
        elif turn.intent == "balance_not_updated_after_bank_transfer":
            self._incoming(turn)
        elif turn.intent == "failed_transfer":
            self._problem(turn, TransferStatus.FAILED, TransferStatus.DECLINED)
        elif turn.intent == "declined_transfer":
            self._problem(turn, TransferStatus.DECLINED, TransferStatus.FAILED)
        elif turn.intent == "transfer_not_received_by_recipient":
            self._not_received(turn)
        else:
            self._pending(turn)

    def _pending(self, turn: Turn) -> None:
        pending = latest_transfer(turn.session, turn.customer.id, {TransferStatus.PENDING})
        if pending is not None:
            self._say_status(turn, pending)
            return
        latest = latest_transfer(turn.session, turn.customer.id)
        if latest is None:
            self._no_transfers(turn)
            return
        turn.say("utter_transfer_none_pending", **transfer_values(latest, turn))
        turn.record(
            Outcome.NOT_FOUND,
            f"no pending transfer; latest {latest.id} is {words(latest.status)}",
        )

    def _not_received(self, turn: Turn) -> None:
        latest = latest_transfer(turn.session, turn.customer.id)
        if latest is None:
            self._no_transfers(turn)
            return
        self._say_status(turn, latest)

    def _problem(self, turn: Turn, wanted: TransferStatus, related: TransferStatus) -> None:
        transfer = latest_transfer(turn.session, turn.customer.id, {wanted}) or latest_transfer(
            turn.session, turn.customer.id, {related}
        )
        if transfer is not None:
            self._say_status(turn, transfer)
            return
        latest = latest_transfer(turn.session, turn.customer.id)
        if latest is None:
            self._no_transfers(turn)
            return
        turn.say("utter_transfer_none_failed", **transfer_values(latest, turn))
        turn.record(
            Outcome.NOT_FOUND,
            f"no failed or declined transfer; latest {latest.id} is {words(latest.status)}",
        )

    def _say_status(self, turn: Turn, transfer: Transfer) -> None:
        values = transfer_values(transfer, turn)
        if transfer.status is TransferStatus.PENDING:
            late = turn.now > transfer.expected_by
            turn.say("utter_transfer_pending_late" if late else "utter_transfer_pending", **values)
        else:
            turn.say(_OUTGOING_RESPONSES[transfer.status], **values)
        turn.record(Outcome.INFO, transfer_summary(transfer, turn))

    def _cancel(self, turn: Turn) -> None:
        pending = latest_transfer(turn.session, turn.customer.id, {TransferStatus.PENDING})
        if pending is None:
            turn.say("utter_transfer_nothing_to_cancel")
            turn.record(Outcome.NOT_FOUND, "no pending transfer to cancel", step=CANCEL_STEP)
            return
        if not is_cancellable(pending):
            turn.say("utter_transfer_cannot_cancel", **transfer_values(pending, turn))
            turn.record(
                Outcome.INFO,
                f"transfer {pending.id} cannot be cancelled: {rail_name(pending.rail)} "
                "payments are final",
                step=CANCEL_STEP,
            )
            return
        cancelled = cancel_transfer(turn.session, pending.id)
        turn.say("utter_transfer_cancelled", **transfer_values(cancelled, turn))
        turn.record(Outcome.DONE, f"cancelled transfer {cancelled.id}: done", step=CANCEL_STEP)

    def _incoming(self, turn: Turn) -> None:
        incoming = latest_transfer(
            turn.session, turn.customer.id, direction=TransferDirection.INCOMING
        )
        if incoming is None:
            turn.say("utter_incoming_transfer_none")
            turn.record(Outcome.NOT_FOUND, "no incoming transfer on the account")
            return
        turn.say(_INCOMING_RESPONSES[incoming.status], **transfer_values(incoming, turn))
        turn.record(Outcome.INFO, transfer_summary(incoming, turn))

    def _no_transfers(self, turn: Turn) -> None:
        turn.say("utter_no_transfers")
        turn.record(Outcome.NOT_FOUND, "no transfers on the account")


_OUTGOING_RESPONSES = {
    TransferStatus.COMPLETED: "utter_transfer_completed",
    TransferStatus.FAILED: "utter_transfer_failed",
    TransferStatus.DECLINED: "utter_transfer_declined",
    TransferStatus.CANCELLED: "utter_transfer_was_cancelled",
}
_INCOMING_RESPONSES = {
    TransferStatus.PENDING: "utter_incoming_transfer_pending",
    TransferStatus.COMPLETED: "utter_incoming_transfer_completed",
    TransferStatus.FAILED: "utter_incoming_transfer_failed",
    TransferStatus.DECLINED: "utter_incoming_transfer_failed",
    TransferStatus.CANCELLED: "utter_incoming_transfer_failed",
}
