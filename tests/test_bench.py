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


def test_the_steps_part_keeps_each_figure_from_the_round_of_its_median_ratio():
    from bench.steps import median_rows
    from bench.table import Figure

    def round_(rate, floor, cpu):
        return [Figure("steps", "throughput", rate, "steps/s", "floor", floor, "≥ 0.6×", rate >= 0.6 * floor),
                Figure("steps", "CPU per step", cpu, "ms")]

    (rate, cpu) = median_rows([round_(50, 100, 9.0), round_(70, 100, 12.0), round_(30, 40, 10.0)])
    assert (rate.value, rate.base_value, rate.ok) == (70, 100, True)  # ratios 0.5, 0.7, 0.75: the middle one
    assert rate.note == "median of 3 rounds (ratios 0.50×, 0.70×, 0.75×)"
    assert cpu.value == 10.0 and cpu.note.startswith("median of 3 rounds (values 9.0, 12.0, 10.0)")
