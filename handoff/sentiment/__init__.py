"""How the customer feels, per message: polarity, frustration and irony from a fine-tuned MiniLM."""
