"""Logging that never shows a token or a phone number: httpx is kept quiet, and known secrets,
anything shaped like a token and Vietnamese phone numbers are masked everywhere. Human-readable
lines by default; JSON lines with `--log-format json` (or BOT_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime

SECRET_ENV = (
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "BOT_SECRET_KEY", "ZALO_BOT_TOKEN",
    "ZALO_BOT_WEBHOOK_SECRET", "ZALO_OA_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_OA_ACCESS_TOKEN",
    "ZALO_OA_REFRESH_TOKEN",
)
# Anything shaped like a Telegram token, even one we were not told about.
TOKEN_SHAPE = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{20,}\b")
# Vietnamese phone numbers: 0912345678, 0912 345 678, +84912345678, 84-912-345-678, 0208 3000 113.
PHONE_SHAPE = re.compile(r"(?<![\w+])(?:\+84|0084|84|0)(?:[ .-]?\d){9,10}(?!\w)")


class Redactor(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return PHONE_SHAPE.sub("[phone]", TOKEN_SHAPE.sub("***", text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.redact(message), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message (already masked)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: int = logging.INFO, extra_secrets: list[str] | None = None, *, fmt: str | None = None,
                  stream=None) -> Redactor:
    secrets = [os.environ.get(name, "") for name in SECRET_ENV] + list(extra_secrets or [])
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream)
    if (fmt or os.environ.get("BOT_LOG_FORMAT") or "text") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram's URL carries the token.
    for noisy in ("httpx", "httpcore", "telegram", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor


def redact_also(secret: str) -> None:
    """A secret learnt while running (a refreshed Zalo OA token) is masked from now on."""
    for handler in logging.getLogger().handlers:
        for flt in handler.filters:
            if isinstance(flt, Redactor) and secret and len(secret) >= 6 and secret not in flt.secrets:
                flt.secrets.append(secret)
