"""tiny-http: a minimal JSON API skeleton.

The package exposes the application factory and the retry helper so that
callers can write ``from tinyhttp import create_app, retry``.
"""
from tinyhttp.app import create_app
from tinyhttp.retry import retry

__all__ = ["create_app", "retry"]
__version__ = "0.9.1"
