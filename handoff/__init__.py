"""Handoff desk: the service that takes customer conversations over from the Rasa assistant.

Importing the package has no side effects: settings, engines and HTTP clients are built by
factory functions when the service or the CLI starts.
"""

__version__ = "0.1.0"
