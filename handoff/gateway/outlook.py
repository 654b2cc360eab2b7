"""Queue position and wait estimate for a queued handoff: pure, time passed in.

The estimate is deliberately simple and explainable: the conversations ahead of this one in
its team's queue, times the typical handling time, shared among the team's agents who are
online, and never later than the acknowledgement due time the escalation matrix promises.
With nobody online there is no estimate: the customer is told so, and given the due time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """One handoff waiting in a team's queue."""

    handoff_id: int
    team: str
    priority: int
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class Outlook:
    """Where a handoff stands: 1-based position in its team's queue and the expected wait."""

    position: int
    agents_online: int
    wait_estimate: timedelta | None  # None when nobody is online to estimate from

    @property
    def agents_available(self) -> bool:
        """Whether anyone in the team is online now."""
        return self.agents_online > 0


def queue_position(item: QueuedItem, queue: Iterable[QueuedItem]) -> int:
    """1-based place of ``item`` among its team's queued handoffs (most urgent, then oldest)."""
    key = (item.priority, item.queued_at, item.handoff_id)
    ahead = sum(
        1
        for other in queue
        if other.team == item.team
        and other.handoff_id != item.handoff_id
        and (other.priority, other.queued_at, other.handoff_id) < key
    )
    return ahead + 1


def outlook(
    item: QueuedItem,
    queue: Iterable[QueuedItem],
    *,
    agents_online: Mapping[str, int],
    average_handle: timedelta,
    acknowledge_due: datetime,
    now: datetime,
) -> Outlook:
    """The outlook of ``item``; see the module docstring for the estimate."""
    return outlook_at(
        queue_position(item, queue),
        agents_online=max(0, agents_online.get(item.team, 0)),
        average_handle=average_handle,
        acknowledge_due=acknowledge_due,
        now=now,
    )


def outlook_at(
    position: int,
    *,
    agents_online: int,
    average_handle: timedelta,
    acknowledge_due: datetime,
    now: datetime,
) -> Outlook:
    """The outlook of the handoff at 1-based ``position`` of a team with ``agents_online``.

    For a whole queue at once: sort it once and call this per place, instead of
    :func:`outlook` per handoff, which scans the queue each time.
    """
    if agents_online <= 0:
        return Outlook(position=position, agents_online=0, wait_estimate=None)
    # Everyone ahead, plus this conversation's own turn to be picked up, spread over the team.
    estimate = average_handle * (position - 1) / agents_online
    promised = max(timedelta(0), acknowledge_due - now)
    wait = min(estimate, promised)
    return Outlook(position=position, agents_online=agents_online, wait_estimate=wait)
