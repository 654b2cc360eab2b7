"""Custom Rasa input channels (registered in `bot/credentials.yml`)."""
