"""The terminal demo, driven through a pseudo-terminal as a person at a keyboard would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handlers.forms.outreach import CAMPAIGN_QUESTIONS
from tests.helpers import vi

ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    def __init__(self, tmp_path: Path) -> None:
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
        env.update(BOT_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
        env.pop("BOT_SECRET_KEY", None)
        env.pop("BOT_SECRET_KEY_FILE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
            env=env, close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.output = ""

    def expect(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {text!r}; screen so far:\n{self.output[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        return self.output

    def expect_any(self, texts: list[str], timeout: float = 30.0) -> str:
        """Waits until one of `texts` is on the screen since the last line typed; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for text in texts:
                if text in self.since_typed():
                    return text
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see any of {texts!r}; screen so far:\n{self.output[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    raise AssertionError(f"the terminal closed; screen so far:\n{self.output[-3000:]}") from None

    def type(self, line: str) -> None:
        self.mark = len(self.output)
        os.write(self.master, (line + "\n").encode())

    def since_typed(self) -> str:
        return self.output[self.mark:]

    def close(self) -> int:
        try:
            os.write(self.master, b"\x04")  # Ctrl-D
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path)
    yield term
    if term.proc.poll() is None:
        term.proc.kill()


def test_a_demo_reporter_files_a_report_in_the_terminal(terminal, tmp_path):
    terminal.expect("Thôn 1")  # greeted as the demo village head of the first village
    terminal.expect("1. Báo cáo buổi tuyên truyền")  # the menu is numbered on a plain channel
    terminal.type("1")
    terminal.expect("1. Thôn 1")
    terminal.type("1")
    terminal.expect("hôm qua")
    terminal.type("hom nay")
    # The terminal runs on the real clock: when today falls in a campaign of the plan, that yes/no comes first.
    if terminal.expect_any(["Họp thôn", *(vi(q) for q in CAMPAIGN_QUESTIONS.values())]) != "Họp thôn":
        terminal.type("2")  # not part of the campaign
        terminal.expect("Họp thôn")
    terminal.type("tap huan")  # "Tập huấn" typed without diacritics
    terminal.expect("Luật Bình đẳng giới")
    terminal.type("1, 3 xong")
    terminal.expect("lượt")
    terminal.type("40")
    terminal.type("15")
    terminal.type("25")
    terminal.expect("thêm")
    terminal.type("2")
    terminal.expect("0/3")
    terminal.type("xong")
    terminal.expect("Tập huấn")
    terminal.type("xác nhận")
    terminal.expect("BC-2026-0001" if time.gmtime().tm_year == 2026 else "BC-")
    assert terminal.close() == 0
    assert (tmp_path / "demo.db").exists()


def test_without_a_terminal_or_a_token_run_refuses(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env["BOT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=ROOT, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "no channel configured" in result.stderr
