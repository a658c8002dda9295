"""Redis connection and the RQ queue, from FORPREV_REDIS_URL (the embedded server's
unix socket by default)."""

from functools import lru_cache

from flask import current_app
from redis import Redis
from rq import Queue

QUEUE_NAME = "forprev"


@lru_cache(maxsize=8)
def redis_connection(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)


def get_queue(url: str | None = None) -> Queue:
    return Queue(QUEUE_NAME, connection=redis_connection(url or current_app.config["REDIS_URL"]))
