"""Throttling of login and account forms, counted in Redis so every web process shares
the counts. Sliding windows on the app clock (a sorted set of moments per subject): an
allowance comes back one attempt at a time, as the oldest ones get older than the window;
tests move the clock to lift a block.

Login failures count per account *and client address* (5 in 15 minutes), and per address
(30 in 15 minutes): whoever types wrong passwords locks out only themselves, and the
account's owner, from an address that has not been failing, still gets in with the right
password (OWASP's lockout without denial of service).

A small counter of our own rather than Flask-Limiter: login counts *failures* (a
successful login uses up nothing) and says in French when to retry, which is simpler to
read here than to configure there.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass

from flask import current_app

from app.clock import utcnow
from app.queue import redis_connection


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = Limit("login-account-address", 5, 15 * 60)
LOGIN_FAILURES_PER_ADDRESS = Limit("login-address", 30, 15 * 60)
ACCOUNT_FORMS_PER_ADDRESS = Limit("account-address", 10, 60 * 60)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        self.message = f"Trop de tentatives. Réessayez dans {minutes} {unit}."
        super().__init__(self.message)


def _key(limit: Limit, subject: str) -> str:
    # hashed: no e-mail address in Redis, and a bounded key whatever was typed
    digest = hashlib.sha256(subject.lower().encode()).hexdigest()[:32]
    return f"forprev:throttle:{limit.name}:{digest}"


def _redis():
    return redis_connection(current_app.config["REDIS_URL"])


def check(limit: Limit, subject: str) -> None:
    """Raise Throttled if `subject` has used up `limit` in the window ending now."""
    now = utcnow().timestamp()
    key = _key(limit, subject)
    pipe = _redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now - limit.window_seconds)
    pipe.zcard(key)
    _, hits = pipe.execute()
    if hits < limit.max_hits:
        return
    # allowed again once all but max_hits - 1 of the hits are older than the window
    (_member, moment), *_ = _redis().zrange(
        key, hits - limit.max_hits, hits - limit.max_hits, withscores=True
    )
    raise Throttled(max(1, math.ceil(moment + limit.window_seconds - now)))


def hit(limit: Limit, subject: str) -> None:
    now = utcnow().timestamp()
    key = _key(limit, subject)
    pipe = _redis().pipeline()
    pipe.zadd(key, {f"{now}:{secrets.token_hex(4)}": now})
    pipe.expire(key, limit.window_seconds)
    pipe.execute()


def check_and_hit(limit: Limit, subject: str) -> None:
    check(limit, subject)
    hit(limit, subject)


def _pair(account: str, address: str) -> str:
    return f"{account}\n{address}"


def check_login(account: str, address: str) -> None:
    """Before checking a password: Throttled if this address has failed too often, on
    any account or on this one."""
    check(LOGIN_FAILURES_PER_ADDRESS, address)
    check(LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, _pair(account, address))


def login_failed(account: str, address: str) -> None:
    hit(LOGIN_FAILURES_PER_ADDRESS, address)
    hit(LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, _pair(account, address))
