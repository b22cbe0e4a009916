"""The vocabulary forms are declared in: steps, options, repeat groups, and the path through them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.vocabulary import UNKNOWN_AGE, Option  # noqa: F401 - the forms build on these

if TYPE_CHECKING:
    from handlers.context import Ctx

SKIPPED = None  # an optional step passed over is stored as an explicit None
# Option codes that exclude every other answer at a several-choice step ("none of these", "not yet
# clear"): pressing one clears the others; typing one together with others is refused.
NONE_CODES = frozenset({"none", "nobody", "unclear"})


class Kind(StrEnum):
    CHOICE = "choice"
    MULTI = "multi"
    INTEGER = "integer"
    DATE = "date"
    TEXT = "text"
    PHOTO = "photo"
    PHONE = "phone"
    YESNO = "yesno"
    AGE = "age"  # asked as a number of years, stored only as the group code it falls in


@dataclass(frozen=True)
class FormEnv:
    """What option lists and checks may look at besides the answers."""

    ctx: Ctx

    @property
    def today(self) -> date:
        return self.ctx.today


Answers = dict[str, Any]
Options = tuple[Option, ...] | Callable[[FormEnv], Sequence[Option]]
# A check returns None when the answer is fine, or (message id, params) to refuse it.
Check = Callable[[Any, Answers, FormEnv], "tuple[str, dict] | None"]


@dataclass(frozen=True)
class Step:
    key: str
    kind: Kind
    prompt: str
    label: str = ""  # short name on the review screen; defaults to the prompt
    options: Options = ()
    extra: tuple[Option, ...] = ()  # buttons beside a typed answer ("không đếm theo giới")
    optional: bool = False
    when: Callable[[Answers], bool] | None = None
    check: Check | None = None
    # Explains why a typed answer matched no option (a village that is not the reporter's, say).
    explain: Callable[[str, FormEnv], tuple[str, dict] | None] | None = None
    minimum: int = 0
    maximum: int = 100_000
    max_length: int = 1000
    max_items: int = 3
    window: bool = True  # dates: refuse those older than the report window
    # Ages: (first year of the group, group code), ascending from 0. Only the code is stored.
    age_groups: tuple[tuple[int, str], ...] = ()
    # Integers: an answer above this asks `confirm` (a message id with {n}) once, as yes or no.
    confirm_above: int = 0
    confirm: str = ""
    help: str = ""
    warning: str = ""  # said before the question (e.g. "no names")
    # A follow-up ("please describe the other") shares the number of the question before it, so
    # answering "Khác" never makes the total grow.
    follow_up: bool = False
    section: str = ""  # message id: a new part of the form starts here, counted on its own
    on_answer: Callable[[Ctx, Answers, Any], Awaitable[None]] | None = None

    def options_for(self, env: FormEnv) -> tuple[Option, ...]:
        opts = self.options(env) if callable(self.options) else self.options
        return tuple(opts)

    @property
    def review_label(self) -> str:
        return self.label or self.prompt


@dataclass(frozen=True)
class Group:
    """A run of steps asked once per item; how many comes from an earlier integer answer."""

    key: str
    count_key: str
    item_label: str  # message id with {n}
    steps: tuple[Step, ...]
    # Another message id with {n} chosen by the answers (the case form names people by the kind chosen).
    label_for: Callable[[Answers], str | None] | None = None


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    items: tuple[Step | Group, ...]
    submit: Callable[[Ctx, Answers, dict], Awaitable[str]]  # returns the confirmation text
    sensitive: bool = False
    command: str = ""
    # Called after every accepted answer (the case form keeps an urgent case's coded answers current).
    on_progress: Callable[[Ctx, Answers], Awaitable[None]] | None = None
    # What to say when the form is cancelled, instead of "nothing was saved" (an urgent case stays).
    on_cancel: Callable[[Ctx, Answers], Awaitable[str | None]] | None = None
    # An emergency word typed inside this form (the case form marks its case urgent); True if handled.
    on_emergency: Callable[[Ctx, Answers], Awaitable[bool]] | None = None
    # A line under the review's title saying what the form acts on ("HS-2026-0001: Mới tiếp nhận → …").
    about: Callable[[Ctx, dict], Awaitable[str | None]] | None = None

    @cached_property
    def _top(self) -> tuple[Position | None, ...]:
        """The Position of each top-level step (None for a group), made once: path() runs several
        times a step, and building them anew was a tenth of a step's time."""
        return tuple(Position(item) if isinstance(item, Step) else None for item in self.items)

    def free_text(self, answers: Answers) -> dict[str, str]:
        """Every answer given to a text step on the path, by its address ("description",
        "people.0.note"): what a sensitive form stores encrypted, whatever its steps are."""
        out = {}
        for pos in path(self, answers):
            value = get_answer(answers, pos, None)
            if pos.step.kind == Kind.TEXT and isinstance(value, str) and value:
                out[pos.address] = value
        return out


@dataclass(frozen=True)
class Position:
    """One question on the path: a step, and the repeat-group item it belongs to."""

    step: Step
    group: str | None = None
    index: int | None = None

    @property
    def address(self) -> str:
        return self.step.key if self.group is None else f"{self.group}.{self.index}.{self.step.key}"


def scope(answers: Answers, pos_group: str | None, index: int | None) -> Answers:
    """Answers as a step sees them: the group item's own answers over the top level."""
    if pos_group is None:
        return answers
    items = answers.get(pos_group) or []
    item = items[index] if index is not None and index < len(items) else {}
    return {**answers, **item}


def path(form: Form, answers: Answers) -> list[Position]:
    out: list[Position] = []
    for item, top in zip(form.items, form._top, strict=True):
        if top is not None:
            if item.when is None or item.when(answers):
                out.append(top)
            continue
        count = answers.get(item.count_key)
        for i in range(count if isinstance(count, int) else 0):
            sc = scope(answers, item.key, i)
            for step in item.steps:
                if step.when is None or step.when(sc):
                    out.append(Position(step, item.key, i))
    return out


def get_answer(answers: Answers, pos: Position, default: Any = ...) -> Any:
    if pos.group is None:
        return answers.get(pos.step.key, default)
    items = answers.get(pos.group) or []
    if pos.index is None or pos.index >= len(items):
        return default
    return items[pos.index].get(pos.step.key, default)


def set_answer(answers: Answers, pos: Position, value: Any) -> None:
    if pos.group is None:
        answers[pos.step.key] = value
        return
    items = answers.setdefault(pos.group, [])
    while len(items) <= (pos.index or 0):
        items.append({})
    items[pos.index][pos.step.key] = value


def answered(answers: Answers, pos: Position) -> bool:
    return get_answer(answers, pos) is not ...


def on_path(form: Form, answers: Answers) -> Answers:
    """Only the answers the final path asked for, and the hidden ones hooks set (keys starting
    with "_"): what a submission stores."""
    kept: Answers = {k: v for k, v in answers.items() if k.startswith("_")}
    for pos in path(form, answers):
        value = get_answer(answers, pos, SKIPPED)
        set_answer(kept, pos, value)
    for item in form.items:
        if isinstance(item, Group):
            count = kept.get(item.count_key)
            items = kept.get(item.key, [])
            kept[item.key] = items[: count if isinstance(count, int) else 0]
    return kept


def selected(key: str, code: str) -> Callable[[Answers], bool]:
    """A condition: a choice step `key` has `code` among its answers."""

    def cond(answers: Answers) -> bool:
        value = answers.get(key)
        return value == code or (isinstance(value, list) and code in value)

    return cond


def equals(key: str, value: Any) -> Callable[[Answers], bool]:
    return lambda answers: answers.get(key) == value


def differs(key: str, value: Any) -> Callable[[Answers], bool]:
    return lambda answers: answers.get(key) != value


@dataclass(frozen=True)
class Progress:
    """Where a question stands in its part of the form: "Bước 3/8". A part is the run of questions
    before a repeat group, each item of the group, what follows it, or a declared section; the
    total counts a part's questions, not its follow-ups, so it never grows as people answer."""

    number: int
    total: int
    section: str = ""  # message id of the part's name, if it has one


def _parts_of(form: Form) -> dict[str, tuple]:
    """Which part each top-level step and group belongs to, from the form's shape alone (not from
    the answers: a group not yet counted still divides the form)."""
    out: dict[str, tuple] = {}
    part: tuple = ("start",)
    for item in form.items:
        if isinstance(item, Group):
            out[item.key] = ("group", item.key)
            part = ("after", item.key)
        else:
            if item.section:
                part = ("section", item.key, item.section)
            out[item.key] = part
    return out


def progress(form: Form, steps: list[Position], address: str) -> Progress | None:
    shape = _parts_of(form)
    parts: list[tuple[tuple, list[Position]]] = []
    key: tuple = ("none",)
    for pos in steps:
        new = shape[pos.group] + (pos.index,) if pos.group is not None else shape[pos.step.key]
        if not parts or new != key:
            parts.append((new, []))
            key = new
        parts[-1][1].append(pos)
    for part, members in parts:
        for i, pos in enumerate(members):
            if pos.address != address:
                continue
            main = [p for p in members if not p.step.follow_up]
            number = sum(1 for p in members[: i + 1] if not p.step.follow_up) or 1
            # The part's name comes from the form's shape: its first step may be off the path.
            section = part[2] if part[0] == "section" else ""
            return Progress(number, max(len(main), 1), section)
    return None
