"""The bench's output: one table, every figure beside a baseline measured in the same run.

Machines are shared and noisy, so the ratio to the baseline is what carries over from one run to
the next; the absolute figures are for the README's "measured on" line.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = ("part", "figure", "measured", "baseline (same run)", "ratio", "target", "result")


@dataclass
class Figure:
    part: str
    name: str
    value: float | None
    unit: str = ""
    baseline: str = ""  # what the baseline is, e.g. "echo bot"
    base_value: float | None = None
    target: str = ""
    ok: bool | None = None  # None: no target
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.base_value:
            return None
        return self.value / self.base_value

    @property
    def result(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "ms":
        text = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    elif unit in ("s",):
        text = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    elif unit == "MB":
        text = f"{value:,.1f}"
    elif unit in ("", "count", "rows"):
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    else:
        text = f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".rstrip() if unit not in ("", "count") else text


def cells(f: Figure) -> tuple[str, ...]:
    base = f.baseline
    if f.base_value is not None:
        base = f"{f.baseline} {fmt(f.base_value, f.unit)}".strip()
    ratio = "" if f.ratio is None else f"{f.ratio:,.2f}×"
    return (f.part, f.name, fmt(f.value, f.unit), base, ratio, f.target, f.result)


class Table:
    """Collects figures; prints each part's rows as it finishes, and everything again at the end."""

    def __init__(self, out=print) -> None:
        self.out = out
        self.rows: list[Figure] = []

    def add(self, *figures: Figure) -> None:
        self.rows.extend(figures)

    def render(self, rows: list[Figure] | None = None) -> list[str]:
        rows = self.rows if rows is None else rows
        body = [cells(r) for r in rows]
        widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(HEADER)]
        right = {2, 4}

        def line(values) -> str:
            return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
                             ).rstrip()

        lines = [line(HEADER), line(["-" * w for w in widths])]
        lines += [line(b) for b in body]
        notes = [f"  {r.part} · {r.name}: {r.note}" for r in rows if r.note]
        if notes:
            lines += ["notes:", *notes]
        return lines

    def print(self, rows: list[Figure] | None = None) -> None:
        for text in self.render(rows):
            self.out(text)

    def summary(self) -> str:
        judged = [r for r in self.rows if r.ok is not None]
        failed = [r for r in judged if not r.ok]
        text = f"{len(judged) - len(failed)}/{len(judged)} targets met"
        if failed:
            text += "; missed: " + "; ".join(f"{r.part} · {r.name}" for r in failed)
        return text
