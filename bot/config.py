"""Configuration: config.toml read into frozen dataclasses, validated at start.

Secrets never live here: tokens and keys come from the environment (see README).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.toml"


def data_dir() -> Path:
    """Where the demo database and the generated key file live (BOT_DATA_DIR, default ./data)."""
    return Path(os.environ.get("BOT_DATA_DIR") or ROOT / "data")


class ConfigError(Exception):
    """A problem in config.toml, naming the key and what is wrong with it."""


@dataclass(frozen=True)
class Village:
    id: str
    name: str


@dataclass(frozen=True)
class Phones:
    police: str = ""
    office_duty: str = ""


@dataclass(frozen=True)
class Commune:
    id: str
    name: str
    province: str
    timezone: str
    villages: tuple[Village, ...]
    phones: Phones = field(default_factory=Phones)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def village(self, village_id: str) -> Village | None:
        return next((v for v in self.villages if v.id == village_id), None)


@dataclass(frozen=True)
class TelegramConfig:
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"
    poll_timeout: int = 25


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""


@dataclass(frozen=True)
class FormsConfig:
    draft_expiry_days: int = 3
    case_draft_expiry_hours: int = 24
    report_window_days: int = 60
    correction_days: int = 7


@dataclass(frozen=True)
class Config:
    communes: tuple[Commune, ...]
    telegram: TelegramConfig
    http: HttpConfig
    storage_url: str
    forms: FormsConfig
    invite_days: int = 7
    path: Path | None = None

    def commune(self, commune_id: str | None) -> Commune | None:
        return next((c for c in self.communes if c.id == commune_id), None)


def _get(table: dict, key: str, kind: type, default, where: str):
    value = table.get(key, default)
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected a whole number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _commune(raw: dict, index: int) -> Commune:
    where = f"communes[{index}]"
    cid = _get(raw, "id", str, None, where) if "id" in raw else None
    if not cid:
        raise ConfigError(f"{where}.id: missing; every commune needs a short id such as 'xuanduong'")
    name = _get(raw, "name", str, "", where)
    if not name:
        raise ConfigError(f"{where}.name: missing")
    tz = _get(raw, "timezone", str, "Asia/Ho_Chi_Minh", where)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}.timezone: unknown time zone {tz!r}") from exc
    villages = []
    seen: set[str] = set()
    raw_villages = raw.get("villages", [])
    if not isinstance(raw_villages, list) or not raw_villages:
        raise ConfigError(f"{where}.villages: expected a non-empty list of {{id, name}} tables")
    for j, v in enumerate(raw_villages):
        vwhere = f"{where}.villages[{j}]"
        if not isinstance(v, dict) or not v.get("id") or not v.get("name"):
            raise ConfigError(f"{vwhere}: expected a table with 'id' and 'name'")
        vid, vname = _get(v, "id", str, "", vwhere), _get(v, "name", str, "", vwhere)
        if vid in seen:
            raise ConfigError(f"{vwhere}.id: duplicate village id {vid!r}")
        seen.add(vid)
        villages.append(Village(vid, vname))
    phones_raw = raw.get("phones", {})
    if not isinstance(phones_raw, dict):
        raise ConfigError(f"{where}.phones: expected a table")
    phones = Phones(
        police=str(phones_raw.get("police", "")),
        office_duty=str(phones_raw.get("office_duty", "")),
    )
    province = _get(raw, "province", str, "", where)
    return Commune(cid, name, province, tz, tuple(villages), phones)


def _section(raw: dict, name: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table")
    return value


def parse_config(raw: dict, path: Path | None = None, env: dict | None = None) -> Config:
    env = os.environ if env is None else env
    communes_raw = raw.get("communes")
    if not isinstance(communes_raw, list) or not communes_raw:
        raise ConfigError("communes: expected at least one [[communes]] table")
    communes = tuple(_commune(c, i) for i, c in enumerate(communes_raw))
    ids = [c.id for c in communes]
    if len(set(ids)) != len(ids):
        raise ConfigError("communes: duplicate commune id")

    tg = _section(raw, "telegram")
    telegram = TelegramConfig(
        api_url=_get(tg, "api_url", str, TelegramConfig.api_url, "telegram"),
        file_url=_get(tg, "file_url", str, TelegramConfig.file_url, "telegram"),
        mode=_get(tg, "mode", str, "polling", "telegram"),
        poll_timeout=_get(tg, "poll_timeout", int, 25, "telegram"),
    )
    if telegram.mode not in ("polling", "webhook"):
        raise ConfigError(f"telegram.mode: expected 'polling' or 'webhook', got {telegram.mode!r}")

    h = _section(raw, "http")
    http = HttpConfig(
        host=_get(h, "host", str, "127.0.0.1", "http"),
        port=_get(h, "port", int, 8080, "http"),
        public_url=_get(h, "public_url", str, "", "http").rstrip("/"),
    )
    if not 0 <= http.port <= 65535:
        raise ConfigError(f"http.port: {http.port} is not a TCP port")
    if telegram.mode == "webhook" and not http.public_url.startswith("https://"):
        raise ConfigError("http.public_url: webhook mode needs the public https:// URL of this server")

    f = _section(raw, "forms")
    forms = FormsConfig(
        draft_expiry_days=_get(f, "draft_expiry_days", int, 3, "forms"),
        case_draft_expiry_hours=_get(f, "case_draft_expiry_hours", int, 24, "forms"),
        report_window_days=_get(f, "report_window_days", int, 60, "forms"),
        correction_days=_get(f, "correction_days", int, 7, "forms"),
    )
    for key in ("draft_expiry_days", "report_window_days", "case_draft_expiry_hours"):
        if getattr(forms, key) < 1:
            raise ConfigError(f"forms.{key}: must be at least 1")

    s = _section(raw, "storage")
    storage_url = env.get("DATABASE_URL") or _get(s, "url", str, "sqlite+aiosqlite:///data/bot.db", "storage")
    storage_url = resolve_sqlite_path(storage_url, ROOT)
    inv = _section(raw, "invites")
    return Config(
        communes=communes,
        telegram=telegram,
        http=http,
        storage_url=storage_url,
        forms=forms,
        invite_days=_get(inv, "expiry_days", int, 7, "invites"),
        path=path,
    )


def resolve_sqlite_path(url: str, root: Path) -> str:
    """Relative SQLite paths are relative to the project, not the working directory."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        rest = url[len(prefix):]
        if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
            return prefix + str((root / rest).resolve())
    return url


def load_config(path: str | os.PathLike | None = None) -> Config:
    path = Path(path or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(raw, path)
