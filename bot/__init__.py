"""Rasa-side code of the assistant (runs in the Rasa 3.6 environment, Python 3.10)."""
