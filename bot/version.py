"""The app's version, from pyproject.toml (the project is run from its folder, not installed)."""

from __future__ import annotations

import tomllib
from functools import cache

from core.config import ROOT


@cache
def app_version() -> str:
    try:
        return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
