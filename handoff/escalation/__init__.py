"""The escalation engine: pure decisions about when a conversation goes to a person.

No I/O here: the policy is loaded by the caller, time is passed in, and every decision says
which triggers fired, with the value and the threshold behind each.
"""
