"""Throttling of login and account forms, counted in Redis so every web process shares
the counts. Fixed windows keyed on the app clock: tests move time to lift a block.

A small counter of our own rather than Flask-Limiter: login must count *failures* per
account (a successful login should not use up the allowance) and say in French when to
retry, which is simpler to read here than to configure there.
"""

import math
from dataclasses import dataclass

from flask import current_app

from app.clock import utcnow
from app.queue import redis_connection


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


LOGIN_FAILURES_PER_ACCOUNT = Limit("login-account", 5, 15 * 60)
LOGIN_ATTEMPTS_PER_ADDRESS = Limit("login-address", 30, 15 * 60)
ACCOUNT_FORMS_PER_ADDRESS = Limit("account-address", 10, 60 * 60)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        self.message = f"Trop de tentatives. Réessayez dans {minutes} {unit}."
        super().__init__(self.message)


def _window(limit: Limit) -> tuple[int, int]:
    now = utcnow().timestamp()
    index = int(now // limit.window_seconds)
    retry_after = math.ceil((index + 1) * limit.window_seconds - now)
    return index, retry_after


def _key(limit: Limit, subject: str, index: int) -> str:
    return f"forprev:throttle:{limit.name}:{subject.lower()}:{index}"


def check(limit: Limit, subject: str) -> None:
    """Raise Throttled if `subject` has used up `limit` in the current window."""
    index, retry_after = _window(limit)
    redis = redis_connection(current_app.config["REDIS_URL"])
    hits = redis.get(_key(limit, subject, index))
    if hits is not None and int(hits) >= limit.max_hits:
        raise Throttled(retry_after)


def hit(limit: Limit, subject: str) -> None:
    index, _ = _window(limit)
    redis = redis_connection(current_app.config["REDIS_URL"])
    key = _key(limit, subject, index)
    pipe = redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 2 * limit.window_seconds)
    pipe.execute()


def check_and_hit(limit: Limit, subject: str) -> None:
    check(limit, subject)
    hit(limit, subject)
