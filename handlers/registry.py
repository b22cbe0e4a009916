"""Where features plug in: commands, button prefixes and scheduled jobs register here, so a new
feature is a new module (imported in handlers/features.py), not an edit of the dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.context import Ctx, Services

CommandRun = Callable[["Ctx", str], Awaitable[None]]
ButtonRun = Callable[["Ctx", str], Awaitable[None]]
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


COMMANDS: dict[str, Command] = {}
BUTTONS: dict[str, ButtonRun] = {}
JOBS: dict[str, Job] = {}


def command(name: str, description: str, *, order: int = 100, in_menu: bool = True, bare: bool = False):
    """Who may use it comes from the one table, handlers/permissions.py."""
    from handlers.permissions import roles_for

    def register(run: CommandRun) -> CommandRun:
        COMMANDS[name] = Command(name, description, roles_for(name), run, order, in_menu, bare)
        return run

    return register


def button(prefix: str):
    """Handles presses whose data starts with `prefix` + ':'."""

    def register(run: ButtonRun) -> ButtonRun:
        BUTTONS[prefix] = run
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
