"""`python -m bench` runs at a tiny size, so it cannot rot. Nothing is asserted about timings."""

from bench.__main__ import main


def test_the_bench_generates_a_small_province_and_times_every_command(tmp_path, capsys):
    db = str(tmp_path / "bench.db")
    assert main(["generate", "--db", db, "--communes", "2", "--villages", "3", "--years", "1",
                 "--cases-per-year", "6"]) == 0
    assert main(["--db", db, "--parts", "commands"]) == 0
    out = capsys.readouterr().out
    assert "baseline SELECT count(*)" in out and "office: /tuan" in out and "province: /xuat" in out
    assert "digest:" in out
