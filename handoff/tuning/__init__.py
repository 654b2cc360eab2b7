"""``handoff tune`` and the escalation evaluation: labelled conversations, their recorded signals,
the figures of a policy on them, and an offline search of the policy's numbers.

The pure parts (labels and split, metrics, search, the policy diff) read nothing but their
arguments; :mod:`handoff.tuning.recording` is the one adapter, recording the engine's inputs
through the live path of ``handoff replay``.
"""
