"""Personal data out of customer messages before a trainer sees them or they become training
data: card numbers, IBANs, account and phone numbers, e-mail addresses, and the names of the
customer on record.

Pure: text in, masked text out, no I/O. Each kind has one placeholder (:data:`PLACEHOLDERS`),
so masked messages that differ only in the data group together and read naturally. Checksums
decide what a number is (Luhn for cards, ISO 7064 for IBANs, via ``python-stdnum``;
``phonenumbers`` for phone numbers); any other run of six or more digits is masked as an
account number, so a mistyped card number is masked too, only under another name. Amounts,
dates and times (five digits or fewer in a row) are kept: they are what a trainer needs to
read the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from stdnum import iban, luhn


class PersonalData(StrEnum):
    """A kind of personal data that is masked."""

    EMAIL = "email"
    IBAN = "iban"
    CARD = "card"
    PHONE = "phone"
    ACCOUNT = "account"
    NAME = "name"


PLACEHOLDERS: dict[PersonalData, str] = {
    PersonalData.EMAIL: "[e-mail address]",
    PersonalData.IBAN: "[IBAN]",
    PersonalData.CARD: "[card number]",
    PersonalData.PHONE: "[phone number]",
    PersonalData.ACCOUNT: "[account number]",
    PersonalData.NAME: "[name]",
}
"""What each kind is replaced with."""

DEFAULT_PHONE_REGION = "GB"
"""Where a phone number without a country code is read as dialled from."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A country code, two check digits, then letters, digits and single spaces: the candidate runs
# on into the next words ("... 7654 32 today"), so its longest valid prefix is the IBAN.
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9])+")
_IBAN_CHARS = range(15, 35)  # the shortest IBANs (Norway) have 15 characters, the longest 34
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_DIGIT_RUN = re.compile(r"\b\d(?:[ -]?\d){5,}\b")
_MIN_NAME_LETTERS = 2


@dataclass(frozen=True, slots=True)
class MaskedText:
    """A message with its personal data replaced; ``found`` lists what was, in the order
    the passes found it (one entry per occurrence)."""

    text: str
    found: tuple[PersonalData, ...]


def mask_personal_data(
    text: str, *, names: Iterable[str] = (), phone_region: str = DEFAULT_PHONE_REGION
) -> MaskedText:
    """``text`` with every piece of personal data replaced by its placeholder.

    ``names`` are the customer's names on record (full names are split into words; each word
    of two letters or more is masked wherever it stands as a whole word, in any case).
    """
    found: list[PersonalData] = []
    passes: list[tuple[PersonalData, Callable[[str], list[tuple[int, int]]]]] = [
        (PersonalData.EMAIL, _spans(_EMAIL)),
        (PersonalData.IBAN, _iban_spans),
        (PersonalData.CARD, _spans(_CARD, lambda s: luhn.is_valid(_digits(s)))),
        (PersonalData.PHONE, lambda t: _phone_spans(t, phone_region)),
        (PersonalData.ACCOUNT, _spans(_DIGIT_RUN)),
        (PersonalData.NAME, _spans(_name_pattern(names))),
    ]
    for kind, spans_of in passes:
        spans = spans_of(text)
        text = _replace(text, spans, PLACEHOLDERS[kind])
        found.extend([kind] * len(spans))
    return MaskedText(text, tuple(found))


def _spans(
    pattern: re.Pattern[str] | None, accept: Callable[[str], bool] = lambda _: True
) -> Callable[[str], list[tuple[int, int]]]:
    def spans(text: str) -> list[tuple[int, int]]:
        if pattern is None:
            return []
        return [m.span() for m in pattern.finditer(text) if accept(m.group())]

    return spans


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for candidate in _IBAN_CANDIDATE.finditer(text):
        # Offsets of the candidate's letters and digits, to map a prefix back onto the text.
        ends = [candidate.start() + i + 1 for i, ch in enumerate(candidate.group()) if ch != " "]
        compact = candidate.group().replace(" ", "")
        for length in sorted((n for n in _IBAN_CHARS if n <= len(compact)), reverse=True):
            prefix = compact[:length]
            if iban.is_valid(prefix) and _ends_a_word(text, ends[length - 1]):
                spans.append((candidate.start(), ends[length - 1]))
                break
    return spans


def _ends_a_word(text: str, end: int) -> bool:
    return end == len(text) or not text[end].isalnum()


def _phone_spans(text: str, region: str) -> list[tuple[int, int]]:
    # VALID: a number that can be dialled in its region. Looser matching takes amounts and
    # dates for phone numbers; a long digit run it refuses is still masked, as an account.
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    return [(match.start, match.end) for match in matcher]


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words = {word for name in names for word in re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", name)}
    words = {word for word in words if len(word) >= _MIN_NAME_LETTERS}
    if not words:
        return None
    # Longest first, so "Anne-Marie" is masked whole before "Anne" could be.
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    # Whole words: not inside another word or name; a possessive "'s" may follow.
    return re.compile(rf"(?<![\w'-])(?:{alternatives})(?=['’]s\b|[^\w'’-]|$)", re.IGNORECASE)


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    # Right to left, so the earlier spans' offsets stay valid.
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)
