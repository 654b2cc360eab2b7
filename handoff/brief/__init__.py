"""The handoff brief: what the agent receives, and what the customer is told about the transfer.

Pure code: facts and ``now`` in, a versioned :class:`~handoff.brief.schema.HandoffBrief` or a
customer-facing sentence out. ``schema`` is the contract with the agent console, ``builder``
composes the brief and its summary, ``notice`` the customer's messages, ``json_schema`` writes
the schema document.
"""
