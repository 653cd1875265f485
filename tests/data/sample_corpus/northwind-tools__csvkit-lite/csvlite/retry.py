"""Retry a flaky call with exponential back-off and jitter.

Usage::

    @retry(attempts=4, base_delay=0.2, retry_on=(ConnectionError, TimeoutError))
    def fetch_inventory():
        ...
"""
from __future__ import annotations

import functools
import logging
import random
import time
from typing import Callable, Tuple, Type, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


def backoff_delays(attempts: int, base_delay: float, max_delay: float, jitter: float):
    """Yield the sleep before each retry: base * 2**n, capped, with +/- jitter."""
    for n in range(attempts - 1):
        delay = min(max_delay, base_delay * (2 ** n))
        spread = delay * jitter
        yield max(0.0, delay + random.uniform(-spread, spread))


def retry(
    attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 5.0,
    jitter: float = 0.25,
    retry_on: Tuple[Type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], None] = time.sleep,
):
    """Decorator: call the function up to `attempts` times while it raises `retry_on`."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args, **kwargs) -> T:
            delays = backoff_delays(attempts, base_delay, max_delay, jitter)
            while True:
                try:
                    return func(*args, **kwargs)
                except retry_on as err:
                    delay = next(delays, None)
                    if delay is None:
                        raise
                    logger.warning("%s failed (%s); retrying in %.2fs",
                                   func.__qualname__, type(err).__name__, delay)
                    sleep(delay)

        return wrapper

    return decorate
