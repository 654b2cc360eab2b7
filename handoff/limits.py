"""Rate limits and the login lockout: pure decisions, time passed in.

Two shapes of limit, each keyed by a string (a connection, a customer, a client address, an
account):

* a **token bucket** (:func:`take`, :class:`RateLimiter`) for the rate of frames, messages and
  new conversations: ``burst`` at once, then ``per_minute`` on average. A human typing fast,
  or an office behind one address, stays inside the burst; a script flooding does not.
* a **failure count with lockout** (:func:`record_failure`, :class:`LoginThrottle`) for logins:
  ``max_failures`` within ``window`` lock the key for ``lockout``, and while locked every
  attempt is refused, the right password included.

Nothing here reads a clock or touches a socket: ``now`` is seconds on any steady scale (the
adapters pass their injected clock's timestamp), so tests move time instead of sleeping. The
keyed stores forget a key once it carries no information (a full bucket, failures out of their
window) and never hold more than ``max_keys``, so an attacker who varies keys cannot grow them
without bound.

Why not the ``limits`` package: its strategies read the wall clock themselves (no clock
argument), its memory storage expires keys from a timer thread, and a lockout that a success
clears is not one of its shapes. The two cores here are a page each; a shared store for several
service instances would put the same decisions behind another storage.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from handoff.exceptions import RateLimited
from handoff.settings import LimitsSettings

__all__ = [
    "ALLOWED",
    "Bucket",
    "FailureLog",
    "KeyedStore",
    "LockoutPolicy",
    "LoginThrottle",
    "Rate",
    "RateLimiter",
    "ServiceLimits",
    "Verdict",
    "forgive",
    "lock_remaining",
    "record_failure",
    "take",
]

_State = TypeVar("_State")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an action may go ahead; if not, how many seconds until it may."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_seconds(self) -> int:
        """``retry_after`` rounded up to whole seconds, at least 1 when refused (for headers
        and frames, which speak whole seconds)."""
        return 0 if self.allowed else max(1, math.ceil(self.retry_after))


ALLOWED = Verdict(allowed=True)


# --------------------------------------------------------------------------- token bucket


@dataclass(frozen=True, slots=True)
class Rate:
    """``burst`` actions at once, refilled at ``per_minute``."""

    burst: int
    per_minute: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_minute <= 0:
            raise ValueError(f"a rate needs burst >= 1 and per_minute > 0, got {self}")

    @property
    def per_second(self) -> float:
        """The refill rate in tokens per second."""
        return self.per_minute / 60.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """A key's tokens as of ``at`` (seconds)."""

    tokens: float
    at: float


def _refilled(bucket: Bucket | None, rate: Rate, now: float) -> float:
    if bucket is None:
        return float(rate.burst)
    elapsed = max(0.0, now - bucket.at)  # a clock that steps back refills nothing
    return min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)


def take(bucket: Bucket | None, rate: Rate, now: float) -> tuple[Verdict, Bucket]:
    """Spend one token of ``bucket`` (``None``: a key not seen yet, full) at ``now``.

    Returns the verdict and the bucket to keep. A refused action spends nothing, so a client
    that waits ``retry_after`` is let through however much it was refused meanwhile.
    """
    tokens = _refilled(bucket, rate, now)
    if tokens >= 1.0:
        return ALLOWED, Bucket(tokens - 1.0, now)
    return Verdict(False, (1.0 - tokens) / rate.per_second), Bucket(tokens, now)


def is_full(bucket: Bucket, rate: Rate, now: float) -> bool:
    """Whether ``bucket`` has refilled completely: it is then the same as no bucket."""
    return _refilled(bucket, rate, now) >= rate.burst


# --------------------------------------------------------------------------- lockout


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` within ``window`` seconds lock a key for ``lockout`` seconds."""

    max_failures: int
    window: float
    lockout: float

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= 0 or self.lockout <= 0:
            raise ValueError(f"a lockout needs positive numbers, got {self}")


@dataclass(frozen=True, slots=True)
class FailureLog:
    """A key's recent failures, each ``(at, tag)``, and when its lockout ends (if locked).

    The tag says what failed (for an address: the account tried), so a success can forgive
    the failures of its own account only.
    """

    failures: tuple[tuple[float, str], ...] = ()
    locked_until: float | None = None


def lock_remaining(log: FailureLog | None, now: float) -> float:
    """Seconds until ``log``'s lockout ends; 0 when it is not locked."""
    if log is None or log.locked_until is None:
        return 0.0
    return max(0.0, log.locked_until - now)


def record_failure(
    log: FailureLog | None, policy: LockoutPolicy, now: float, tag: str
) -> FailureLog:
    """``log`` with one more failure at ``now``; locked once the failures in the window reach
    ``max_failures``, until ``lockout`` from now. After a lockout the count starts afresh."""
    if log is None or (log.locked_until is not None and log.locked_until <= now):
        log = FailureLog()
    if lock_remaining(log, now) > 0:
        return log  # already locked: the lockout is not extended
    recent = tuple(f for f in log.failures if now - f[0] < policy.window) + ((now, tag),)
    locked_until = now + policy.lockout if len(recent) >= policy.max_failures else None
    return FailureLog(failures=recent, locked_until=locked_until)


def forgive(log: FailureLog, policy: LockoutPolicy, tag: str) -> FailureLog:
    """``log`` without the failures tagged ``tag``; a lockout stands only if the failures left
    would still have caused it."""
    failures = tuple(f for f in log.failures if f[1] != tag)
    locked = log.locked_until is not None and len(failures) >= policy.max_failures
    return replace(log, failures=failures, locked_until=log.locked_until if locked else None)


def is_spent(log: FailureLog, policy: LockoutPolicy, now: float) -> bool:
    """Whether ``log`` says nothing any more: its lockout is over, or it has none and every
    failure is out of the window."""
    if log.locked_until is not None:
        return log.locked_until <= now
    return all(now - at >= policy.window for at, _ in log.failures)


# --------------------------------------------------------------------------- keyed stores


class KeyedStore(Generic[_State]):
    """States by key, most recently used last, bounded.

    ``spent(state, now)`` says a state carries no information any more: such states are
    dropped from the least recently used end as keys are touched, and beyond ``max_keys`` the
    least recently used is dropped whatever it holds (an attacker with that many keys has
    that many limits anyway).
    """

    def __init__(self, spent: Callable[[_State, float], bool], max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._states: OrderedDict[str, _State] = OrderedDict()
        self._spent = spent
        self._max_keys = max_keys

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: str) -> _State | None:
        """The state of ``key``, if any (not counted as a use)."""
        return self._states.get(key)

    def put(self, key: str, state: _State | None, now: float) -> None:
        """Keep ``state`` for ``key`` (``None`` forgets it), then prune."""
        self._states.pop(key, None)
        if state is not None:
            self._states[key] = state
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self._states:
            oldest_key, oldest = next(iter(self._states.items()))
            if not (self._spent(oldest, now) or len(self._states) > self._max_keys):
                return
            del self._states[oldest_key]


class RateLimiter:
    """One :class:`Rate` for many keys."""

    def __init__(self, rate: Rate, *, max_keys: int) -> None:
        self.rate = rate
        self._buckets: KeyedStore[Bucket] = KeyedStore(
            lambda bucket, now: is_full(bucket, rate, now), max_keys
        )

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str, now: float) -> Verdict:
        """Spend one action of ``key`` at ``now``, if it has one left."""
        verdict, bucket = take(self._buckets.get(key), self.rate, now)
        self._buckets.put(key, bucket, now)
        return verdict

    def enforce(self, key: str, now: float, what: str) -> None:
        """As :meth:`hit`; a refusal raises :class:`~handoff.exceptions.RateLimited`, saying
        "too many ``what``" and when to retry."""
        verdict = self.hit(key, now)
        if not verdict.allowed:
            wait = verdict.retry_after_seconds
            raise RateLimited(f"too many {what}: retry in {wait} s", wait)


class LoginThrottle:
    """Failed logins counted per account and per client address, each with its lockout.

    The account is the username as the store compares it, whether or not it exists, so the
    throttle says nothing about which usernames are real. Every attempt is counted as a
    failure *before* the password is checked (:meth:`attempt`), so concurrent guesses cannot
    all slip in before the first is counted; :meth:`succeeded` then takes it back.
    """

    def __init__(
        self, *, per_account: LockoutPolicy, per_address: LockoutPolicy, max_keys: int
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self._accounts: KeyedStore[FailureLog] = KeyedStore(
            lambda log, now: is_spent(log, per_account, now), max_keys
        )
        self._addresses: KeyedStore[FailureLog] = KeyedStore(
            lambda log, now: is_spent(log, per_address, now), max_keys
        )

    def attempt(self, account: str, address: str, now: float) -> Verdict:
        """Refused while the account or the address is locked; otherwise allowed and counted
        as a failure until :meth:`succeeded` says otherwise."""
        account_log, address_log = self._accounts.get(account), self._addresses.get(address)
        wait = max(lock_remaining(account_log, now), lock_remaining(address_log, now))
        if wait > 0:
            return Verdict(False, wait)
        self._accounts.put(account, record_failure(account_log, self.per_account, now, ""), now)
        address_log = record_failure(address_log, self.per_address, now, account)
        self._addresses.put(address, address_log, now)
        return ALLOWED

    def succeeded(self, account: str, address: str, now: float) -> None:
        """The password was right: the account's failures are forgiven, and so are the
        address's failures *for this account* (not those for other accounts)."""
        self._accounts.put(account, None, now)
        address_log = self._addresses.get(address)
        if address_log is not None:
            self._addresses.put(address, forgive(address_log, self.per_address, account), now)


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """Every limiter of the service, built once by the app's lifespan (``app.state.limits``)."""

    customer_frames: RateLimiter
    """Frames after the opening, per customer socket."""
    customer_messages: RateLimiter
    """``message`` frames per customer (an anonymous one: per conversation), all sockets."""
    agent_frames: RateLimiter
    """Frames after ``auth``, per agent socket."""
    new_conversations: RateLimiter
    """``start`` frames that create a conversation, per client address."""
    logins: LoginThrottle

    @classmethod
    def from_settings(cls, settings: LimitsSettings) -> ServiceLimits:
        """The limiters ``settings`` describe, every key store empty."""
        s, keys = settings, settings.max_tracked_keys

        def limiter(burst: int, per_minute: float) -> RateLimiter:
            return RateLimiter(Rate(burst, per_minute), max_keys=keys)

        def lockout(max_failures: int) -> LockoutPolicy:
            return LockoutPolicy(max_failures, s.login_window_seconds, s.login_lockout_seconds)

        return cls(
            customer_frames=limiter(s.customer_frames_burst, s.customer_frames_per_minute),
            customer_messages=limiter(s.customer_messages_burst, s.customer_messages_per_minute),
            agent_frames=limiter(s.agent_frames_burst, s.agent_frames_per_minute),
            new_conversations=limiter(s.new_conversations_burst, s.new_conversations_per_minute),
            logins=LoginThrottle(
                per_account=lockout(s.login_max_failures_per_account),
                per_address=lockout(s.login_max_failures_per_address),
                max_keys=keys,
            ),
        )
