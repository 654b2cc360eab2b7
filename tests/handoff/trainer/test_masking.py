"""Personal data masked out of customer messages, kind by kind."""

from __future__ import annotations

import pytest

from handoff.trainer.masking import PersonalData, mask_personal_data

E, IB, C, P, A, N = (
    PersonalData.EMAIL,
    PersonalData.IBAN,
    PersonalData.CARD,
    PersonalData.PHONE,
    PersonalData.ACCOUNT,
    PersonalData.NAME,
)

CASES = [
    # (message, names on record, masked, what was found)
    ("where is my card?", (), "where is my card?", ()),
    ("my card 4242 4242 4242 4242 was declined", (), "my card [card number] was declined", (C,)),
    ("card 4242-4242-4242-4242 please", (), "card [card number] please", (C,)),
    ("card 4242424242424242", (), "card [card number]", (C,)),
    # Fails Luhn: still masked, as a number that is not a card's.
    ("card 4242 4242 4242 4243", (), "card [account number]", (A,)),
    ("send it to GB82 WEST 1234 5698 7654 32 today", (), "send it to [IBAN] today", (IB,)),
    ("iban gb82west12345698765432", (), "iban [IBAN]", (IB,)),
    ("write to jo.bloggs+bank@example.co.uk", (), "write to [e-mail address]", (E,)),
    ("call me on 07911 123456", (), "call me on [phone number]", (P,)),
    ("or +44 20 7946 0958 after six", (), "or [phone number] after six", (P,)),
    (
        "account 12345678 sort code 12-34-56",
        (),
        "account [account number] sort code [account number]",
        (A, A),
    ),
    # A bad check digit: not an IBAN, but its digits are still masked.
    ("pay GB00 WEST 1234 5698 7654 32", (), "pay GB00 WEST [account number]", (A,)),
    ("DE89 3704 0044 0532 0130 00", (), "[IBAN]", (IB,)),
    # Amounts, dates and times stay: a trainer needs them to read the message.
    ("sent 1500 euros on 03/12/2026 at 14:30", (), "sent 1500 euros on 03/12/2026 at 14:30", ()),
    ("a payment of 340,00 to Lisbon", (), "a payment of 340,00 to Lisbon", ()),
    ("hi, this is Anne Smith", ("Anne Smith",), "hi, this is [name] [name]", (N, N)),
    ("SMITH here, anne's card", ("Anne Smith",), "[name] here, [name]'s card", (N, N)),
    # Whole words only: "Ann" is not masked inside "annoyed" or "Annex".
    ("so annoyed, Ann", ("Ann",), "so annoyed, [name]", (N,)),
    ("Anne-Marie Lee", ("Anne-Marie Lee",), "[name] [name]", (N, N)),
    # One-letter parts of a name are left alone.
    ("J wrote this", ("J Bloggs",), "J wrote this", ()),
    (
        "I'm Jo (jo@bank.test), card 4242 4242 4242 4242, phone 07911 123456",
        ("Jo Bloggs",),
        "I'm [name] ([e-mail address]), card [card number], phone [phone number]",
        (E, C, P, N),
    ),
]


@pytest.mark.parametrize(("message", "names", "masked", "found"), CASES)
def test_personal_data_is_masked(
    message: str, names: tuple[str, ...], masked: str, found: tuple[PersonalData, ...]
) -> None:
    result = mask_personal_data(message, names=names)

    assert result.text == masked
    assert result.found == found


def test_a_number_without_a_country_code_is_read_in_the_configured_region() -> None:
    # A US number: a phone number in the US, only a long digit run in Great Britain.
    assert mask_personal_data("ring 415 555 2671", phone_region="US").found == (PersonalData.PHONE,)
    assert mask_personal_data("ring 415 555 2671", phone_region="GB").found == (
        PersonalData.ACCOUNT,
    )


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_personal_data("card 4242 4242 4242 4242, Anne", names=("Anne",)).text

    assert mask_personal_data(once, names=("Anne",)).text == once
