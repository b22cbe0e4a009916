"""Every office command and the digest on the generated data (bench/run.py), as rows of the table."""

from __future__ import annotations

from bench.parts import Options, part
from bench.run import LIMIT, NOTES, headline, measure
from bench.table import Figure, Table


@part("commands", order=10, needs_data=True)
async def commands(opts: Options, table: Table) -> None:
    communes, reports, baseline, timings = await measure(opts.db)
    opts.out(headline(communes, reports, baseline))
    rows = [Figure("commands", label, seconds * 1000, "ms", "SELECT count(*)", baseline * 1000,
                   f"< {LIMIT * 1000:.0f} ms", seconds < LIMIT) for label, seconds in timings]
    table.add(*rows)
    table.print(rows)
    for note in NOTES:
        opts.out(f"  note: {note}")
    NOTES.clear()
