"""Build steps for trained artefacts: NLU data, the sentence encoder, model caching."""
