"""The scale parts of `python -m bench` at a tiny size, so they cannot rot. Nothing is asserted
about timings: only that every part runs to the end and prints its rows and the final table.

(Conversation steps through the real python-telegram-bot stack and a bare echo bot, the digest
on a generated two-commune province, a digest broadcast against the emulator's rate limit, and
the memory and start-up of a bot process.)
"""

import os

from bench.__main__ import main


def test_the_scale_bench_runs_every_part_at_a_tiny_size(tmp_path, capsys):
    db = str(tmp_path / "province.db")
    assert main(["generate", "--db", db, "--communes", "2", "--villages", "3", "--months", "1",
                 "--cases-per-year", "6"]) == 0
    generated = capsys.readouterr().out
    assert "reports: " in generated and "bare table" in generated

    pg = os.environ.get("TEST_POSTGRES_URL") or "off"
    assert main(["--db", db, "--parts", "digest,steps,broadcast,memory", "--pg", pg, "--reporters", "3",
                 "--reports", "1", "--recipients", "20", "--people", "60", "--drafts", "6", "--repeat", "1", "--think", "0.01-0.05"]) == 0
    out = capsys.readouterr().out
    final = out[out.index("== all figures"):]
    for figure in ("sqlite, 3 reporters: throughput", "sqlite, 3 reporters: latency p99", "echo bot",
                   "durable floor", "emulator CPU per step", "another writer's longest wait",
                   "0.01–0.05 s think time: latency p99",
                   "one commune", "all 2 communes", "SQL aggregate",
                   "20 recipients: achieved rate", "messages lost", "429 Too Many Requests",
                   "peak RSS (VmHWM)", "start-up: App.prepare + channel start"):
        assert figure in final, figure
    if pg != "off":
        assert "postgresql, 3 reporters: throughput" in final
    assert "targets met" in final
    assert "reports saved" not in out and "stuck" not in out  # every simulated report went through
