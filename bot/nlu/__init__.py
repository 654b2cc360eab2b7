"""Custom NLU components for the Rasa pipeline in `config.yml`."""
