"""parse_rating: the one rating from 1 to 5 a reply names, or None when it is unclear."""

from __future__ import annotations

import pytest

from actions.rating import parse_rating

READ_AS_RATING = [
    ("5", 5),
    ("1", 1),
    ("4/5", 4),
    ("4 / 5", 4),
    ("5/5", 5),
    ("five", 5),
    ("Four", 4),
    ("5 stars", 5),
    ("one star", 1),
    ("3 out of 5", 3),
    ("three out of five", 3),
    ("2 of 5", 2),
    ("I'd give it a 4", 4),
    ("excellent, 5", 5),
    ("excellent,5", 5),
    ("1, terrible", 1),
    ("I give it 5.", 5),
    ("5!", 5),
    # Numbers that cannot be a rating are passed over.
    ("waited 20 minutes, so 3", 3),
    ("1st time here, 5", 5),
    # The same rating twice is still one rating.
    ("5, 5 stars", 5),
    ("5/5, five stars", 5),
]

UNCLEAR = [
    "",
    "great",
    "0",
    "6",
    "10/10",
    "8 out of 10",
    "7 of 10, so 4",  # a score on another scale makes the whole reply unclear
    "4 or 5",
    "4-5",
    "between 3 and four",
    "4.5",
    "4,5",
]


@pytest.mark.parametrize(("text", "rating"), READ_AS_RATING)
def test_reads_the_rating(text: str, rating: int) -> None:
    assert parse_rating(text) == rating


@pytest.mark.parametrize("text", UNCLEAR)
def test_none_or_several_numbers_give_no_rating(text: str) -> None:
    assert parse_rating(text) is None
