"""Errors raised by the demo bank.

Hierarchy::

    BankError                 base class; callers that only care "the bank said no" catch this
    ├── CustomerNotFound      no customer with the given id
    ├── CardNotFound          no card with the given id (for the given customer)
    ├── TransferNotFound      no transfer with the given id (for the given customer)
    ├── OperationNotAllowed   the request is valid but the record's state forbids it
    │                         (freezing a cancelled card, cancelling a Faster Payment)
    └── BankUnavailable       the backend could not be reached or answered with a driver
                              error; wraps the SQLAlchemy ``DBAPIError`` (``OperationalError``
                              and friends) as ``__cause__``
"""

from __future__ import annotations


class BankError(Exception):
    """Base class of every error the demo bank raises on purpose."""


class CustomerNotFound(BankError):
    """No customer has the requested id."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer with id {customer_id!r}")
        self.customer_id = customer_id


class CardNotFound(BankError):
    """No card has the requested id."""

    def __init__(self, card_id: str) -> None:
        super().__init__(f"no card with id {card_id!r}")
        self.card_id = card_id


class TransferNotFound(BankError):
    """No transfer has the requested id."""

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"no transfer with id {transfer_id!r}")
        self.transfer_id = transfer_id


class OperationNotAllowed(BankError):
    """The record exists but its current state does not allow the operation."""


class BankUnavailable(BankError):
    """The bank's database failed (connection, missing table, locked file...)."""
