"""Configuration: config.toml read into frozen dataclasses, validated at start.

Secrets never live here: tokens and keys come from the environment (see README).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
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
class ZaloEnv:
    """Names of the environment variables holding one commune's Zalo credentials (never the values)."""

    bot_token: str = "ZALO_BOT_TOKEN"
    bot_webhook_secret: str = "ZALO_BOT_WEBHOOK_SECRET"
    oa_app_id: str = "ZALO_OA_APP_ID"
    oa_app_secret: str = "ZALO_OA_APP_SECRET"
    oa_secret_key: str = "ZALO_OA_SECRET_KEY"
    oa_access_token: str = "ZALO_OA_ACCESS_TOKEN"
    oa_refresh_token: str = "ZALO_OA_REFRESH_TOKEN"


@dataclass(frozen=True)
class Commune:
    id: str
    name: str
    province: str
    timezone: str
    villages: tuple[Village, ...]
    phones: Phones = field(default_factory=Phones)
    zalo: ZaloEnv = field(default_factory=ZaloEnv)
    telegram_bot: str = ""  # the bot's handle, e.g. "@xuanduong_bot", printed in the reporter guide
    zalo_name: str = ""  # the name of the Zalo OA or Zalo Bot to search for, printed in the guide

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def village(self, village_id: str) -> Village | None:
        return next((v for v in self.villages if v.id == village_id), None)

    @property
    def place(self) -> str:
        """The commune as a place ("xã Xuân Dương"), not its People's Committee ("UBND xã Xuân Dương")."""
        name = self.name
        for prefix in ("UBND ", "Ủy ban nhân dân ", "Uỷ ban nhân dân "):
            if name.startswith(prefix):
                return name[len(prefix):]
        return name


@dataclass(frozen=True)
class TelegramConfig:
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"
    poll_timeout: int = 25


@dataclass(frozen=True)
class ZaloBotConfig:
    api_url: str = "https://bot-api.zaloplatforms.com/bot"  # requests go to {api_url}{token}/{method}
    mode: str = "polling"
    poll_timeout: int = 30


@dataclass(frozen=True)
class ZaloOAConfig:
    api_url: str = "https://openapi.zalo.me"  # messages go to {api_url}/v3.0/oa/message/cs
    oauth_url: str = "https://oauth.zaloapp.com/v4/oa/access_token"
    refresh_before_minutes: int = 60  # the access token is renewed this long before it expires


TEMPLATE_FIELDS = ("ref", "urgent_word", "village", "reporter_phone")  # what the bot fills in, and nothing else


@dataclass(frozen=True)
class ZaloTemplateConfig:
    """A Zalo template message (ZNS, "ZBS Template Message" from 2026) for urgent alerts to people
    whose official-account window is closed. Off while `template_id` is empty; it needs the OA's
    credentials too (the same access token)."""

    template_id: str = ""
    params: tuple[tuple[str, str], ...] = ()  # (our field, the template's parameter name)
    api_url: str = "https://business.openapi.zalo.me"  # /message/template and /template/info/v2
    uid_url: str = "https://openapi.zalo.me/v3.0/oa/message/template"  # by Zalo user id
    by_user_id: bool = True  # a person without a phone number gets it by their OA user id

    @property
    def enabled(self) -> bool:
        return bool(self.template_id)

    def param(self, field: str) -> str | None:
        return dict(self.params).get(field)


def _zalo_template(raw: dict) -> ZaloTemplateConfig:
    t = _section(raw, "zalo_template")
    where = "zalo_template"
    template_id = t.get("template_id", "")
    if isinstance(template_id, int) and not isinstance(template_id, bool):
        template_id = str(template_id)
    if not isinstance(template_id, str) or (template_id.strip() and not template_id.strip().isdigit()):
        raise ConfigError(f"{where}.template_id: expected the template's number as Zalo shows it, e.g. \"412345\"; "
                          f"got {template_id!r}")
    params_raw = t.get("params", {})
    if not isinstance(params_raw, dict):
        raise ConfigError(f"{where}.params: expected a table of our field = the template's parameter name")
    params = []
    for key, value in params_raw.items():
        if key not in TEMPLATE_FIELDS:
            raise ConfigError(f"{where}.params.{key}: not a field the bot fills in; those are {', '.join(TEMPLATE_FIELDS)}")
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,50}", value):
            raise ConfigError(f"{where}.params.{key}: expected the template's parameter name (letters, digits, _), "
                              f"got {value!r}")
        params.append((key, value))
    names = [v for _, v in params]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.params: two fields name the same template parameter")
    config = ZaloTemplateConfig(
        template_id=template_id.strip(), params=tuple(params),
        api_url=_get(t, "api_url", str, ZaloTemplateConfig.api_url, where).rstrip("/"),
        uid_url=_get(t, "uid_url", str, ZaloTemplateConfig.uid_url, where),
        by_user_id=_get(t, "by_user_id", bool, True, where),
    )
    if config.enabled and config.param("ref") is None:
        raise ConfigError(f"{where}.params.ref: the template must carry the case reference; name its parameter")
    return config


def _zalo_env(raw: dict, where: str) -> ZaloEnv:
    """`zalo_bot_token_env = "ZALO_BOT_TOKEN_XD"` and the like: this commune's own variables."""
    names = {}
    for key in vars(ZaloEnv()):
        option = f"zalo_{key}_env"
        if option in raw:
            value = _get(raw, option, str, "", where)
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
                raise ConfigError(f"{where}.{option}: expected the NAME of an environment variable, "
                                  f"like ZALO_BOT_TOKEN_XD, got {value!r}")
            names[key] = value
    return ZaloEnv(**names)


def _zalo(raw: dict, http: HttpConfig) -> tuple[ZaloBotConfig, ZaloOAConfig]:
    b, o = _section(raw, "zalo_bot"), _section(raw, "zalo_oa")
    bot = ZaloBotConfig(
        api_url=_get(b, "api_url", str, ZaloBotConfig.api_url, "zalo_bot"),
        mode=_get(b, "mode", str, "polling", "zalo_bot"),
        poll_timeout=_get(b, "poll_timeout", int, 30, "zalo_bot"),
    )
    if bot.mode not in ("polling", "webhook"):
        raise ConfigError(f"zalo_bot.mode: expected 'polling' or 'webhook', got {bot.mode!r}")
    if not 1 <= bot.poll_timeout <= 60:
        raise ConfigError("zalo_bot.poll_timeout: expected 1 to 60 seconds")
    if bot.mode == "webhook" and not http.public_url.startswith("https://"):
        raise ConfigError("http.public_url: Zalo webhooks need the public https:// URL of this server")
    oa = ZaloOAConfig(
        api_url=_get(o, "api_url", str, ZaloOAConfig.api_url, "zalo_oa").rstrip("/"),
        oauth_url=_get(o, "oauth_url", str, ZaloOAConfig.oauth_url, "zalo_oa"),
        refresh_before_minutes=_get(o, "refresh_before_minutes", int, 60, "zalo_oa"),
    )
    if oa.refresh_before_minutes < 1:
        raise ConfigError("zalo_oa.refresh_before_minutes: must be at least 1")
    return bot, oa


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


ESCALATION_ROLES = ("police", "leader", "office", "admin")


@dataclass(frozen=True)
class SafetyConfig:
    ack_minutes: int = 10  # an unacknowledged alert is sent again and escalated after this
    escalation: tuple[str, ...] = ESCALATION_ROLES
    reach_seconds: int = 60  # nobody reached by then: the reporter is told to call 113
    case_text_years: int = 5  # free text of a closed case is erased this long after closing
    flood_per_minute: int = 40  # more events than this from one person in a minute are throttled


def _safety(raw: dict) -> SafetyConfig:
    a = _section(raw, "alerts")
    r = _section(raw, "retention")
    escalation = a.get("escalation", list(ESCALATION_ROLES))
    if not isinstance(escalation, list) or not escalation or any(e not in ESCALATION_ROLES for e in escalation):
        raise ConfigError(f"alerts.escalation: expected a list of roles from {', '.join(ESCALATION_ROLES)}")
    safety = SafetyConfig(
        ack_minutes=_get(a, "ack_minutes", int, 10, "alerts"),
        escalation=tuple(escalation),
        reach_seconds=_get(a, "reach_seconds", int, 60, "alerts"),
        case_text_years=_get(r, "case_text_years", int, 5, "retention"),
        flood_per_minute=_get(a, "flood_per_minute", int, 40, "alerts"),
    )
    for key in ("ack_minutes", "reach_seconds", "case_text_years", "flood_per_minute"):
        if getattr(safety, key) < 1:
            raise ConfigError(f"{'retention' if key == 'case_text_years' else 'alerts'}.{key}: must be at least 1")
    return safety


@dataclass(frozen=True)
class OperationsConfig:
    """When the admins are told that something needs them (see README, Operations)."""

    channel_down_minutes: int = 10
    outbox_stuck_minutes: int = 15
    zalo_monthly_quota: int = 3000  # outgoing Zalo Bot messages a month (free plan)
    zalo_quota_warn_percent: int = 80
    zalo_bot_user_limit: int = 50  # distinct people one Zalo bot may serve (free plan)
    zalo_users_warn: int = 40  # the admins are warned from this many
    disk_free_min_percent: int = 10


def _operations(raw: dict) -> OperationsConfig:
    o = _section(raw, "operations")
    ops = OperationsConfig(**{
        key: _get(o, key, int, default, "operations") for key, default in vars(OperationsConfig()).items()
    })
    for key, value in vars(ops).items():
        if value < 1 or (key.endswith("percent") and value > 100):
            raise ConfigError(f"operations.{key}: must be at least 1" + (" and at most 100" if "percent" in key else ""))
    return ops


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class WeeklyAt:
    """A moment of the week in the commune's time zone: weekday 0 = Monday."""

    weekday: int
    hour: int
    minute: int


@dataclass(frozen=True)
class DigestConfig:
    at: WeeklyAt = WeeklyAt(0, 7, 30)
    link_days: int = 7  # how long a signed file link works


# Resolution 28/NQ-CP (strategy 2021–2030): (year, percent) to reach by each year, per indicator.
DEFAULT_TARGETS = {
    "support": ((2025, 80), (2030, 90)),  # 2a: people subjected to DV or GBV with at least one basic support service
    "counselling": ((2025, 50), (2030, 70)),  # 2b: people who committed DV or GBV, not prosecuted, counselled
    "trafficking_support": ((2025, 100), (2030, 100)),  # 3: trafficking victims who needed support and got it
}


@dataclass(frozen=True)
class TargetsConfig:
    support: tuple[tuple[int, int], ...] = DEFAULT_TARGETS["support"]
    counselling: tuple[tuple[int, int], ...] = DEFAULT_TARGETS["counselling"]
    trafficking_support: tuple[tuple[int, int], ...] = DEFAULT_TARGETS["trafficking_support"]

    def for_year(self, indicator: str, year: int) -> tuple[int, int]:
        """(year, percent): the target in force, the first whose year is not yet past."""
        steps = getattr(self, indicator)
        return next((t for t in steps if year <= t[0]), steps[-1])


def _targets(raw: dict) -> TargetsConfig:
    t = _section(raw, "targets")
    out = {}
    for key, default in DEFAULT_TARGETS.items():
        value = t.get(key)
        if value is None:
            out[key] = default
            continue
        if not isinstance(value, dict) or not value:
            raise ConfigError(f"targets.{key}: expected a table of year = percent, e.g. {{ 2025 = 80, 2030 = 90 }}")
        steps = []
        for year, pct in value.items():
            if not str(year).isdigit() or not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100:
                raise ConfigError(f"targets.{key}.{year}: expected a year = a whole percent from 0 to 100")
            steps.append((int(year), pct))
        out[key] = tuple(sorted(steps))
    return TargetsConfig(**out)


def _reporting_start(raw: dict) -> tuple[int, int]:
    """[reporting] year_starts = "15/12": (day, month) a province's reporting year starts on, for
    "nam bao cao 2026" (15/12/2025 – 14/12/2026). "Từ đầu năm" always counts from 01/01."""
    value = _get(_section(raw, "reporting"), "year_starts", str, "01/01", "reporting")
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*", value)
    try:
        if m is None:
            raise ValueError(value)
        date(2001, int(m[2]), int(m[1]))  # not a leap year: 29/02 cannot start every year
    except ValueError:
        raise ConfigError(f"reporting.year_starts: expected a day and a month as dd/mm, e.g. \"15/12\"; "
                          f"got {value!r}") from None
    return int(m[1]), int(m[2])


@dataclass(frozen=True)
class Config:
    communes: tuple[Commune, ...]
    telegram: TelegramConfig
    http: HttpConfig
    storage_url: str
    forms: FormsConfig
    invite_days: int = 7
    operations: OperationsConfig = OperationsConfig()
    safety: SafetyConfig = SafetyConfig()
    path: Path | None = None
    digest: DigestConfig = DigestConfig()
    reminders: WeeklyAt = WeeklyAt(4, 16, 0)
    zalo_bot: ZaloBotConfig = ZaloBotConfig()
    zalo_oa: ZaloOAConfig = ZaloOAConfig()
    zalo_template: ZaloTemplateConfig = ZaloTemplateConfig()
    targets: TargetsConfig = TargetsConfig()
    reporting_start: tuple[int, int] = (1, 1)  # (day, month) of the province's reporting year
    replica: str = ""  # BOT_REPLICA: this process's stable name among replicas on PostgreSQL (README)

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
    return Commune(cid, name, province, tz, tuple(villages), phones, zalo=_zalo_env(raw, where),
                   telegram_bot=_get(raw, "telegram_bot", str, "", where).strip(),
                   zalo_name=_get(raw, "zalo_name", str, "", where).strip())


def _weekly(table: dict, where: str, default: WeeklyAt) -> WeeklyAt:
    """`weekday` ("monday" … "sunday", or 1–7 with 1 = Monday) and `time` ("07:30")."""
    day = table.get("weekday", WEEKDAYS[default.weekday])
    if isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= 7:
        weekday = day - 1
    elif isinstance(day, str) and day.strip().lower() in WEEKDAYS:
        weekday = WEEKDAYS.index(day.strip().lower())
    else:
        raise ConfigError(f"{where}.weekday: expected monday … sunday (or 1–7), got {day!r}")
    at = table.get("time", f"{default.hour:02d}:{default.minute:02d}")
    hour, _, minute = str(at).partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f"{where}.time: expected HH:MM, got {at!r}")
    return WeeklyAt(weekday, int(hour), int(minute))


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
    d = _section(raw, "digest")
    digest = DigestConfig(at=_weekly(d, "digest", DigestConfig.at),
                          link_days=_get(d, "link_days", int, 7, "digest"))
    if digest.link_days < 1:
        raise ConfigError("digest.link_days: must be at least 1")
    reminders = _weekly(_section(raw, "reminders"), "reminders", WeeklyAt(4, 16, 0))
    zalo_bot, zalo_oa = _zalo(raw, http)
    return Config(
        communes=communes,
        telegram=telegram,
        http=http,
        storage_url=storage_url,
        forms=forms,
        invite_days=_get(inv, "expiry_days", int, 7, "invites"),
        operations=_operations(raw),
        safety=_safety(raw),
        path=path,
        digest=digest,
        reminders=reminders,
        zalo_bot=zalo_bot,
        zalo_oa=zalo_oa,
        zalo_template=_zalo_template(raw),
        targets=_targets(raw),
        reporting_start=_reporting_start(raw),
        replica=_replica(env),
    )


def _replica(env) -> str:
    name = env.get("BOT_REPLICA", "").strip()
    if len(name) > 64 or not all(c.isalnum() or c in "-_.:@" for c in name):
        raise ConfigError("BOT_REPLICA: expected a name of at most 64 letters, digits and - _ . : @ "
                          f"(one per replica, kept across restarts), got {name!r}")
    return name


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
