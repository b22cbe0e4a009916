"""Logging that never shows a token: httpx is kept quiet and known secrets are masked everywhere."""

from __future__ import annotations

import logging
import os
import re

SECRET_ENV = (
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "BOT_SECRET_KEY", "ZALO_BOT_TOKEN",
    "ZALO_BOT_WEBHOOK_SECRET", "ZALO_OA_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_OA_ACCESS_TOKEN",
    "ZALO_OA_REFRESH_TOKEN",
)
# Anything shaped like a Telegram token, even one we were not told about.
TOKEN_SHAPE = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{20,}\b")


class Redactor(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.redact(message), None
        return True


def setup_logging(level: int = logging.INFO, extra_secrets: list[str] | None = None) -> Redactor:
    secrets = [os.environ.get(name, "") for name in SECRET_ENV] + list(extra_secrets or [])
    redactor = Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram's URL carries the token.
    for noisy in ("httpx", "httpcore", "telegram", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
