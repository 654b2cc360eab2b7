"""Bot trainers' work: what the assistant got wrong, reviewed into NLU training data."""
