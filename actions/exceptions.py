"""Errors raised by the action server's own code.

Hierarchy::

    demobank.exceptions.BankError
    └── demobank.exceptions.BankUnavailable
        └── BankConfigurationError   BANK_DATABASE_URL is not a usable database URL

Actions never let a bank error reach rasa-sdk: ``actions.base.AccountAction`` turns every
``BankError`` and SQLAlchemy error into an apology, a failed attempted step and a ``bot_error``
handoff. Configuration errors subclass ``BankUnavailable`` so they take the same path: to the
customer a misconfigured bank is an unavailable bank.
"""

from __future__ import annotations

from demobank.exceptions import BankUnavailable


class BankConfigurationError(BankUnavailable):
    """The configured bank database URL cannot be used to build an engine."""
