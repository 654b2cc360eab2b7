"""Fine-tuning and evaluation of the customer-sentiment model (``handoff.sentiment.model``)."""
