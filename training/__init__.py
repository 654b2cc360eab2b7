"""Build steps for the trained artefacts: NLU data conversion, the sentence encoder, model caching."""
