"""Where features plug in: commands, button prefixes and scheduled jobs register here, so a new
feature is a new module (imported in handlers/features.py), not an edit of the dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.context import Ctx, Services

MAX_DATA_BYTES = 64  # Telegram's limit for callback data


@dataclass(frozen=True)
class Press:
    """Button data, typed: "o:v:xuanduong:t03" is Press("o", ("v", "xuanduong", "t03")). The one place
    it is encoded and checked (short ASCII, at most 64 bytes, no ":" inside a part); the format is
    the one already in people's chats, so an old button still works."""

    prefix: str
    parts: tuple[str, ...] = ()

    @property
    def action(self) -> str:
        """The sub-action of a prefix with several ("o:s:…" → "s"); "" for none."""
        return self.parts[0] if self.parts else ""

    @property
    def arg(self) -> str:
        """Everything after the prefix, as one string ("l:vi" → "vi", "r:BC-2026-0001" → ...)."""
        return ":".join(self.parts)

    def encode(self) -> str:
        if any(":" in part for part in self.parts):
            raise ValueError("a part of button data cannot hold ':'")
        data = ":".join((self.prefix, *self.parts))
        if not data.isascii() or len(data.encode()) > MAX_DATA_BYTES:
            raise ValueError(f"button data must be ASCII and at most {MAX_DATA_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, data: str | None) -> Press | None:
        """None for data no button of ours could have sent (empty, not ASCII, too long)."""
        if not data or not data.isascii() or len(data.encode()) > MAX_DATA_BYTES:
            return None
        prefix, *parts = data.split(":")
        return cls(prefix, tuple(parts)) if prefix else None


CommandRun = Callable[["Ctx", str], Awaitable[None]]
ButtonRun = Callable[["Ctx", Press], Awaitable[None]]
JobRun = Callable[["Services", object, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Command:
    name: str  # ASCII, what is typed after the slash
    description: str  # message id, shown in menus
    roles: frozenset[str] | None  # None: everyone enrolled
    run: CommandRun
    order: int = 100  # position in the menus
    in_menu: bool = True  # a button in the main menu (besides the command list)
    bare: bool = False  # may be typed without the slash even with an argument ("NHAN HS-2026-0001")


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds
    run: JobRun


@dataclass(frozen=True)
class Button:
    """A button prefix. A press may do only what a command may: `command` names it for every press,
    or `actions` for each sub-action ("o:s:…" → actions["s"]); handlers/dispatch.py checks it against
    handlers/permissions.py before `run`, and a sub-action not listed never reaches `run`."""

    prefix: str
    run: ButtonRun
    command: str | None = None
    actions: dict[str, str] | None = None

    def needs(self, press: Press) -> str | None:
        """The command whose rights the press needs; None: no such sub-action."""
        if self.command is not None:
            return self.command
        return (self.actions or {}).get(press.action)

    def key(self, press: Press) -> str:
        """What the press is, for a log line: the prefix and the sub-action, never the arguments."""
        return self.prefix if self.actions is None else f"{self.prefix}:{press.action}"

    def presses(self) -> dict[str, str]:
        """Every press this button has ("o:s", "a", …) and the command each needs."""
        if self.command is not None:
            return {self.prefix: self.command}
        return {f"{self.prefix}:{action}": name for action, name in (self.actions or {}).items()}


@dataclass(frozen=True)
class HttpAnswer:
    """What a route answers, in no web framework's terms: bot/http.py turns it into a response."""

    status: int
    body: bytes
    media_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] | None = None


RouteRun = Callable[["Services", object, dict[str, str], datetime], Awaitable[HttpAnswer]]


@dataclass(frozen=True)
class Route:
    """An HTTP route a feature adds: `run(services, sessions, path parameters, now)`."""

    method: str
    path: str  # "/files/{token}"
    run: RouteRun


COMMANDS: dict[str, Command] = {}
BUTTONS: dict[str, Button] = {}
ROUTES: list[Route] = []
JOBS: dict[str, Job] = {}


def command(name: str, description: str, *, order: int = 100, in_menu: bool = True, bare: bool = False):
    """Who may use it comes from the one table, handlers/permissions.py."""
    from handlers.permissions import roles_for

    def register(run: CommandRun) -> CommandRun:
        COMMANDS[name] = Command(name, description, roles_for(name), run, order, in_menu, bare)
        return run

    return register


def button(prefix: str, command: str | None = None, *, actions: dict[str, str] | None = None):
    """Handles presses whose data starts with `prefix` + ':'. A press may do what `command` may (or,
    with `actions`, what the command of its sub-action may), by handlers/permissions.py: a button
    without a command there cannot be registered, as a command missing from it cannot."""
    from handlers.permissions import roles_for

    if (command is None) == (actions is None) or (actions is not None and not actions):
        raise ValueError(f"button {prefix!r}: say which command's rights a press needs (command= or actions=)")
    for name in [command] if command is not None else actions.values():
        roles_for(name)  # KeyError: not in the table

    def register(run: ButtonRun) -> ButtonRun:
        BUTTONS[prefix] = Button(prefix, run, command, dict(actions) if actions is not None else None)
        return run

    return register


def button_for(press: Press | None) -> tuple[Button, str] | None:
    """The button a press belongs to and the command whose rights it needs; None: no such button."""
    entry = BUTTONS.get(press.prefix) if press is not None else None
    needs = entry.needs(press) if entry is not None else None
    return (entry, needs) if needs is not None else None


def route(method: str, path: str):
    def register(run: RouteRun) -> RouteRun:
        ROUTES.append(Route(method, path, run))
        return run

    return register


def job(name: str, every: float):
    def register(run: JobRun) -> JobRun:
        JOBS[name] = Job(name, every, run)
        return run

    return register


def commands_in_order() -> list[Command]:
    return sorted(COMMANDS.values(), key=lambda c: (c.order, c.name))


def may_use(roles: frozenset[str], cmd: Command) -> bool:
    return cmd.roles is None or bool(roles & cmd.roles)
