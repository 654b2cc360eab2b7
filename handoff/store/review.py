"""The bot trainers' inbox in the database: review items written with their turn, read in
groups of near-identical messages.

:func:`insert_review_item` runs inside the transaction that completes a customer turn
(:meth:`~handoff.store.repository.ConversationStore.complete_turn`), so a turn is never
answered without its inbox entry, nor entered without being answered. :class:`ReviewStore`
reads the inbox: one row per :attr:`~handoff.store.models.ReviewItem.occurrence_key`, with how
many times it occurred and when first and last, served by the index on
``(status, occurrence_key, created_at)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from handoff.store.database import for_writing, session_factory
from handoff.store.models import ReviewItem
from handoff.store.states import ReviewStatus

__all__ = [
    "NewReviewItem",
    "ReviewGroup",
    "ReviewStore",
    "insert_review_item",
    "upsert_review_item",
]

_ITEMS = cast(Table, ReviewItem.__table__)


@dataclass(frozen=True, slots=True)
class NewReviewItem:
    """A turn for the inbox: its masked text and key, what the assistant made of it, why."""

    text: str
    occurrence_key: str
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    suggestion: str | None


@dataclass(frozen=True, slots=True)
class ReviewGroup:
    """Near-identical inbox messages of one status, as the inbox lists them.

    The text, intent, confidence, ranking, reasons and suggestion are the latest message's;
    ``conversation_ids`` are the conversations they came from, latest first.
    """

    occurrence_key: str
    count: int
    first_seen: datetime
    last_seen: datetime
    latest_item_id: int
    text: str
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    suggestion: str | None
    conversation_ids: list[str]


def insert_review_item(
    session: Session, *, message_id: int, conversation_id: str, item: NewReviewItem, now: datetime
) -> int:
    """Add ``item`` for the message, in the caller's transaction; returns its id.

    A message has one item: a turn run again after a crash (see the gateway's recover())
    finds its item there and keeps it.
    """
    existing = session.execute(_ITEM_OF_MESSAGE, {"message_id": message_id}).one_or_none()
    if existing is not None:
        return int(existing.id)
    return _insert(session, message_id, conversation_id, item, now)


def upsert_review_item(
    session: Session, *, message_id: int, conversation_id: str, item: NewReviewItem, now: datetime
) -> int:
    """Put a message in the inbox with ``item``'s reasons, once, in the caller's transaction:
    a message already there gains the reasons it lacks, and ``item``'s suggestion when it has
    one (an agent's correct intent says more than the assistant's guess). Returns its id."""
    row = session.execute(_ITEM_OF_MESSAGE, {"message_id": message_id}).one_or_none()
    if row is None:
        return _insert(session, message_id, conversation_id, item, now)
    reasons = list(row.reasons)
    reasons.extend(reason for reason in item.reasons if reason not in reasons)
    changes: dict[str, Any] = {"reasons": copy.deepcopy(reasons)}
    if item.suggestion is not None:
        changes["suggestion"] = item.suggestion
    session.execute(update(_ITEMS).where(_ITEMS.c.id == row.id).values(**changes))
    return int(row.id)


_ITEM_OF_MESSAGE = select(_ITEMS.c.id, _ITEMS.c.reasons).where(
    _ITEMS.c.message_id == bindparam("message_id")
)


def _insert(
    session: Session, message_id: int, conversation_id: str, item: NewReviewItem, now: datetime
) -> int:
    values = {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "text": item.text,
        "occurrence_key": item.occurrence_key,
        "intent": item.intent,
        "confidence": item.confidence,
        "ranking": copy.deepcopy(item.ranking),
        "reasons": copy.deepcopy(item.reasons),
        "suggestion": item.suggestion,
        "status": ReviewStatus.OPEN.value,
        "created_at": now,
    }
    return int(session.execute(insert(_ITEMS).values(**values).returning(_ITEMS.c.id)).scalar_one())


class ReviewStore:
    """The trainers' inbox: its groups, and the trainers' decisions on them (thread-safe,
    synchronous, like the other stores)."""

    def __init__(self, engine: Engine) -> None:
        self._read = session_factory(engine)
        self._write = session_factory(for_writing(engine))

    def decide(
        self,
        occurrence_key: str,
        *,
        status: ReviewStatus,
        label: str | None,
        decided_by: str,
        now: datetime,
    ) -> int:
        """Decide every open message of a group: ``status``, the intent it is an example of
        (``label``), who and when. Nothing is deleted. Returns how many were open."""
        if status is ReviewStatus.OPEN:
            raise ValueError("a decision moves a group out of 'open'")
        if not decided_by.strip():
            raise ValueError("say who decided")
        with self._write() as session, session.begin():
            result = session.execute(
                update(_ITEMS)
                .where(
                    _ITEMS.c.occurrence_key == occurrence_key,
                    _ITEMS.c.status == ReviewStatus.OPEN.value,
                )
                .values(
                    status=status.value,
                    label=label,
                    decided_by=decided_by.strip()[:32],
                    decided_at=now,
                )
            )
            return int(result.rowcount)

    def groups(
        self, status: ReviewStatus = ReviewStatus.OPEN, *, limit: int = 50, offset: int = 0
    ) -> list[ReviewGroup]:
        """The groups of ``status``, most frequent first (then the most recent)."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be positive and offset not negative")
        counted = (
            select(
                _ITEMS.c.occurrence_key,
                func.count().label("count"),
                func.min(_ITEMS.c.created_at).label("first_seen"),
                func.max(_ITEMS.c.created_at).label("last_seen"),
                func.max(_ITEMS.c.id).label("latest_item_id"),
            )
            .where(_ITEMS.c.status == status.value)
            .group_by(_ITEMS.c.occurrence_key)
            .order_by(
                func.count().desc(), func.max(_ITEMS.c.created_at).desc(), _ITEMS.c.occurrence_key
            )
            .limit(limit)
            .offset(offset)
        )
        with self._read() as session:
            rows = session.execute(counted).all()
            latest = _items_by_id(session, [row.latest_item_id for row in rows])
            sources = _conversations_by_key(session, status, [row.occurrence_key for row in rows])
        return [
            ReviewGroup(
                occurrence_key=row.occurrence_key,
                count=row.count,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                latest_item_id=row.latest_item_id,
                text=latest[row.latest_item_id].text,
                intent=latest[row.latest_item_id].intent,
                confidence=latest[row.latest_item_id].confidence,
                ranking=copy.deepcopy(latest[row.latest_item_id].ranking),
                reasons=copy.deepcopy(latest[row.latest_item_id].reasons),
                suggestion=latest[row.latest_item_id].suggestion,
                conversation_ids=sources.get(row.occurrence_key, []),
            )
            for row in rows
        ]


def _items_by_id(session: Session, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = session.execute(select(_ITEMS).where(_ITEMS.c.id.in_(ids))).all()
    return {row.id: row for row in rows}


def _conversations_by_key(
    session: Session, status: ReviewStatus, keys: list[str]
) -> dict[str, list[str]]:
    if not keys:
        return {}
    rows = session.execute(
        select(_ITEMS.c.occurrence_key, _ITEMS.c.conversation_id)
        .where(_ITEMS.c.status == status.value, _ITEMS.c.occurrence_key.in_(keys))
        .order_by(_ITEMS.c.created_at.desc(), _ITEMS.c.id.desc())
    ).all()
    found: dict[str, list[str]] = {}
    for key, conversation_id in rows:
        ids = found.setdefault(key, [])
        if conversation_id not in ids:
            ids.append(conversation_id)
    return found
