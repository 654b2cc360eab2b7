"""Adapters at the service's edges: who the customer is, and the Rasa assistant."""
