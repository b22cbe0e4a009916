"""The parts of `python -m bench`: each a registered coroutine that adds its figures to the table.

    @part("steps", order=20)
    async def steps(opts: Options, table: Table) -> None: ...

A part that reads the generated data (`python -m bench generate`) says so with needs_data=True.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.table import Table


@dataclass
class Options:
    db: str = ""  # the generated data (URL)
    pg: str = ""  # a PostgreSQL server URL for scratch databases; "" = SQLite only
    reporters: list[int] = field(default_factory=lambda: [10, 100, 1000])
    reports: int = 0  # reports per simulated reporter; 0 = enough for about MIN_STEPS steps
    recipients: int = 3000
    people: int = 10_000
    drafts: int = 1000
    repeat: int = 3  # timings taken this many times, the median kept
    step_timeout: float = 300.0
    think: tuple[float, float] = (2.0, 5.0)  # seconds a reporter pauses before each step in the think-time run
    out: Callable[[str], None] = print


@dataclass
class Part:
    name: str
    order: int
    run: Callable[[Options, Table], Awaitable[None]]
    needs_data: bool = False


PARTS: dict[str, Part] = {}


def part(name: str, *, order: int, needs_data: bool = False):
    def register(fn: Callable[[Options, Table], Awaitable[None]]):
        PARTS[name] = Part(name, order, fn, needs_data)
        return fn

    return register


def load_parts() -> dict[str, Part]:
    """Import every module that registers a part."""
    from bench import broadcast, commands, memory, province, steps  # noqa: F401

    return dict(sorted(PARTS.items(), key=lambda kv: kv[1].order))
