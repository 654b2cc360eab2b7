"""Reading a satisfaction rating from 1 to 5 out of the customer's reply.

Customers answer "5", "4/5", "five", "5 stars", "3 out of 5", "I'd give it a 4" or
"1, terrible". A reply counts as a rating only when it names exactly one whole number from 1
to 5; anything else ("4 or 5", "8 out of 10", "great") gives None, so the assistant asks again
rather than guess.
"""

from __future__ import annotations

import re

LOWEST = 1
HIGHEST = 5

_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# A decimal is matched whole so that "4.5" is one (unusable) number, not a 4 and a 5. Larger
# number words are left out: they could never be a rating anyway.
_NUMBER = r"\d+(?:[.,]\d+)?|" + "|".join(_WORDS)
_NUMBER_TOKEN = re.compile(rf"(?<!\w)(?:{_NUMBER})(?!\w)")
# "4/5", "3 out of 5", "two of five": the scale is not a rating of its own.
_ON_A_SCALE = re.compile(
    rf"(?<!\w)(?P<score>{_NUMBER})\s*(?:/|out\s+of\b|of\b)\s*(?P<scale>{_NUMBER})(?!\w)"
)


def parse_rating(text: str) -> int | None:
    """The one rating from 1 to 5 that ``text`` names, or None when it names none or several."""
    lowered = text.lower()
    ratings: set[int] = set()
    for match in _ON_A_SCALE.finditer(lowered):
        # A score on another scale ("8 out of 10") cannot be read as a rating out of 5.
        if _whole_number(match["scale"]) != HIGHEST:
            return None
        ratings |= _as_rating(match["score"])
    for token in _NUMBER_TOKEN.findall(_ON_A_SCALE.sub(" ", lowered)):
        ratings |= _as_rating(token)
    return ratings.pop() if len(ratings) == 1 else None


def _as_rating(token: str) -> set[int]:
    """``{n}`` when ``token`` is a whole number from 1 to 5, else the empty set."""
    number = _whole_number(token)
    return {number} if number is not None and LOWEST <= number <= HIGHEST else set()


def _whole_number(token: str) -> int | None:
    """The number a digit string or a number word stands for; None for a decimal ("4.5")."""
    if token in _WORDS:
        return _WORDS[token]
    return int(token) if token.isdecimal() else None
