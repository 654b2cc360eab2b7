"""The rate limits' pure cores: token buckets and the login lockout, with explicit times."""

from __future__ import annotations

import pytest

from handoff.exceptions import RateLimited
from handoff.limits import (
    Bucket,
    FailureLog,
    LockoutPolicy,
    LoginThrottle,
    Rate,
    RateLimiter,
    ServiceLimits,
    Verdict,
    forgive,
    lock_remaining,
    record_failure,
    take,
)
from handoff.settings import LimitsSettings

RATE = Rate(burst=3, per_minute=60)  # 3 at once, then one a second
POLICY = LockoutPolicy(max_failures=3, window=60, lockout=300)


# --------------------------------------------------------------------------- token bucket


@pytest.mark.parametrize(
    ("bucket", "now", "allowed", "retry_after", "tokens_left"),
    [
        (None, 0.0, True, 0.0, 2.0),  # a new key starts full
        (Bucket(3.0, 0.0), 0.0, True, 0.0, 2.0),
        (Bucket(1.0, 0.0), 0.0, True, 0.0, 0.0),  # the last token
        (Bucket(0.0, 0.0), 0.0, False, 1.0, 0.0),  # empty: one token is a second away
        (Bucket(0.0, 0.0), 0.25, False, 0.75, 0.25),  # refused: nothing spent
        (Bucket(0.0, 0.0), 1.0, True, 0.0, 0.0),  # refilled just enough
        (Bucket(0.0, 0.0), 100.0, True, 0.0, 2.0),  # refills up to the burst, no further
        (Bucket(0.5, 10.0), 5.0, False, 0.5, 0.5),  # a clock that steps back refills nothing
    ],
)
def test_take_spends_a_token_or_says_when_there_will_be_one(
    bucket: Bucket | None, now: float, allowed: bool, retry_after: float, tokens_left: float
) -> None:
    verdict, kept = take(bucket, RATE, now)
    assert verdict.allowed is allowed
    assert verdict.retry_after == pytest.approx(retry_after)
    assert kept.tokens == pytest.approx(tokens_left)
    assert kept.at == now


@pytest.mark.parametrize(
    ("verdict", "seconds"),
    [
        (Verdict(True), 0),
        (Verdict(False, 0.01), 1),  # never "retry in 0 s"
        (Verdict(False, 1.0), 1),
        (Verdict(False, 1.2), 2),  # rounded up: retrying on time is never refused
    ],
)
def test_retry_after_is_whole_seconds_rounded_up(verdict: Verdict, seconds: int) -> None:
    assert verdict.retry_after_seconds == seconds


def test_a_flood_gets_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(RATE, max_keys=10)
    at_once = [limiter.hit("flood", 0.0).allowed for _ in range(100)]
    assert at_once.count(True) == 3
    assert [limiter.hit("flood", t).allowed for t in (0.5, 1.0, 1.5, 2.0)] == [
        False,
        True,
        False,
        True,
    ]


def test_keys_are_limited_apart() -> None:
    limiter = RateLimiter(RATE, max_keys=10)
    for _ in range(5):
        limiter.hit("flood", 0.0)
    assert limiter.hit("flood", 0.0).allowed is False
    assert limiter.hit("someone else", 0.0).allowed is True


def test_enforce_raises_with_when_to_retry() -> None:
    limiter = RateLimiter(Rate(burst=1, per_minute=6), max_keys=10)
    limiter.enforce("k", 0.0, "messages")
    with pytest.raises(RateLimited) as refused:
        limiter.enforce("k", 0.0, "messages")
    assert refused.value.retry_after_seconds == 10
    assert "too many messages" in refused.value.message


def test_idle_keys_are_forgotten_and_memory_is_bounded() -> None:
    limiter = RateLimiter(RATE, max_keys=100)
    for n in range(1000):  # an attacker with many keys, all at once
        limiter.hit(f"key-{n}", 0.0)
    assert len(limiter) == 100
    limiter.hit("late", 10.0)  # long enough for every bucket to refill: they say nothing
    assert len(limiter) == 1


def test_a_forgotten_key_still_has_its_limit_while_it_is_remembered() -> None:
    limiter = RateLimiter(RATE, max_keys=100)
    for _ in range(3):
        limiter.hit("flood", 0.0)
    for n in range(50):
        limiter.hit(f"other-{n}", 0.5)
    assert limiter.hit("flood", 0.5).allowed is False


# --------------------------------------------------------------------------- lockout


@pytest.mark.parametrize(
    ("failures_at", "now", "locked_for"),
    [
        ((), 0.0, 0.0),
        ((0.0, 1.0), 2.0, 0.0),  # two of three
        ((0.0, 1.0, 2.0), 2.0, 300.0),  # the third locks, from its own time
        ((0.0, 1.0, 2.0), 302.0, 0.0),  # ...until the lockout ends
        ((0.0, 1.0, 70.0), 70.0, 0.0),  # the first is out of the window by then
        ((0.0, 1.0, 2.0, 100.0), 100.0, 202.0),  # a failure while locked does not extend it
    ],
)
def test_failures_within_the_window_lock_for_the_lockout(
    failures_at: tuple[float, ...], now: float, locked_for: float
) -> None:
    log: FailureLog | None = None
    for at in failures_at:
        log = record_failure(log, POLICY, at, "ana")
    assert lock_remaining(log, now) == pytest.approx(locked_for)


def test_a_failure_after_a_lockout_counts_from_zero() -> None:
    log: FailureLog | None = None
    for at in (0.0, 1.0, 2.0):
        log = record_failure(log, POLICY, at, "ana")
    log = record_failure(log, POLICY, 302.0, "ana")
    assert [at for at, _ in log.failures] == [302.0] and lock_remaining(log, 302.0) == 0


@pytest.mark.parametrize(
    ("tags", "forgiven", "left", "locked"),
    [
        (("ana", "bo"), "ana", ["bo"], False),
        (("bo", "bo", "ana"), "ana", ["bo", "bo"], False),  # ana's failure made the lock
        (("bo", "bo", "bo"), "ana", ["bo", "bo", "bo"], True),  # bo's failures keep it
    ],
)
def test_forgive_removes_only_the_failures_of_its_tag(
    tags: tuple[str, ...], forgiven: str, left: list[str], locked: bool
) -> None:
    log: FailureLog | None = None
    for n, tag in enumerate(tags):
        log = record_failure(log, POLICY, float(n), tag)
    assert log is not None
    after = forgive(log, POLICY, forgiven)
    assert [tag for _, tag in after.failures] == left
    assert (lock_remaining(after, float(len(tags))) > 0) is locked


def throttle(per_address: int = 5) -> LoginThrottle:
    return LoginThrottle(
        per_account=POLICY,
        per_address=LockoutPolicy(max_failures=per_address, window=60, lockout=300),
        max_keys=100,
    )


def fail(logins: LoginThrottle, account: str, address: str, now: float) -> Verdict:
    # The route's order: the attempt is counted, the password turns out wrong.
    return logins.attempt(account, address, now)


def test_an_account_locked_by_failures_refuses_every_attempt_until_the_lockout_ends() -> None:
    logins = throttle()
    for n in range(3):
        assert fail(logins, "ana", "10.0.0.1", float(n)).allowed
    refused = logins.attempt("ana", "10.0.0.2", 3.0)  # another address, the right password
    assert refused == Verdict(False, 299.0)
    assert logins.attempt("ana", "10.0.0.1", 302.0).allowed


def test_a_success_forgives_its_own_failures() -> None:
    logins = throttle()
    for n in range(2):
        fail(logins, "ana", "10.0.0.1", float(n))
    assert logins.attempt("ana", "10.0.0.1", 2.0).allowed
    logins.succeeded("ana", "10.0.0.1", 2.0)
    for n in range(2):  # counted from zero again
        assert fail(logins, "ana", "10.0.0.1", 3.0 + n).allowed
    assert logins.attempt("ana", "10.0.0.1", 5.0).allowed


def test_an_unknown_username_is_locked_like_a_real_one() -> None:
    logins = throttle()
    for n in range(3):
        fail(logins, "nobody", "10.0.0.1", float(n))
    assert logins.attempt("nobody", "10.0.0.1", 3.0) == Verdict(False, 299.0)


def test_an_address_trying_many_accounts_is_locked() -> None:
    logins = throttle(per_address=5)
    for n in range(5):
        assert fail(logins, f"user{n}", "10.0.0.1", float(n)).allowed
    assert logins.attempt("user9", "10.0.0.1", 5.0).allowed is False
    assert logins.attempt("user9", "10.0.0.2", 5.0).allowed  # another address is not


def test_a_success_does_not_clear_the_addresss_failures_for_other_accounts() -> None:
    logins = throttle(per_address=5)
    for n in range(4):
        fail(logins, f"victim{n}", "10.0.0.1", float(n))
    assert logins.attempt("attacker", "10.0.0.1", 4.0).allowed  # their own, right password
    logins.succeeded("attacker", "10.0.0.1", 4.0)
    assert fail(logins, "victim9", "10.0.0.1", 5.0).allowed  # the fifth failure locks
    assert logins.attempt("attacker", "10.0.0.1", 6.0).allowed is False


def test_the_throttle_forgets_what_no_longer_counts() -> None:
    logins = throttle()
    for n in range(200):
        fail(logins, f"user{n}", f"10.0.{n}.1", 0.0)
    assert len(logins._accounts) == 100 and len(logins._addresses) == 100
    fail(logins, "late", "10.9.9.9", 1000.0)  # every failure is out of its window by then
    assert len(logins._accounts) == 1 and len(logins._addresses) == 1


# --------------------------------------------------------------------------- from settings


def test_the_default_limits_let_people_through_and_stop_floods() -> None:
    limits = ServiceLimits.from_settings(LimitsSettings())
    # A fast typist: a message every 2 seconds for 5 minutes.
    assert all(limits.customer_messages.hit("typist", 2.0 * n).allowed for n in range(150))
    # A reload storm and an office behind one address: 20 new conversations at once.
    assert all(limits.new_conversations.hit("office", 0.0).allowed for _ in range(20))
    # A script: 2,000 messages in a fraction of a second.
    flood = [limits.customer_messages.hit("script", n / 10_000).allowed for n in range(2_000)]
    assert flood.count(True) < 20
    opened = [limits.new_conversations.hit("script", n / 200).allowed for n in range(200)]
    assert opened.count(True) < 35
