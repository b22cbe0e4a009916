"""The terminal demo, driven through a pseudo-terminal as a person at a keyboard would."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.forms.outreach import CAMPAIGN_QUESTIONS
from storage.crypto import keyring_for
from storage.db import make_engine, migrate, session_factory
from storage.people import attach_identity, create_person
from tests.helpers import vi

ROOT = Path(__file__).resolve().parent.parent


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
    env.update(BOT_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    env.pop("BOT_SECRET_KEY", None)
    env.pop("BOT_SECRET_KEY_FILE", None)
    return env


class Terminal:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
            env=demo_env(tmp_path), close_fds=True,
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


def test_every_role_in_one_demo_database(tmp_path):
    """A case filed as the demo village head alerts the demo officers (printed with who they are);
    the police acknowledges it in the same demo database, the office lists it, exports and reads the
    digest, whose link opens while the demo runs."""
    reporter = Terminal(tmp_path)
    try:
        reporter.expect("Đổi vai: python3 tasks.py run --demo-role")  # the first lines say how to switch
        reporter.expect("1. Báo cáo buổi tuyên truyền")
        reporter.type("/baotin")
        reporter.expect("Có nguy hiểm tức thời")
        reporter.type("1")
        screen = reporter.expect("Nếu có người đang gặp nguy hiểm")
        ref = re.search(r"HS-\d{4}-0001", screen).group(0)
        for label in ("Công an xã, Nguyễn Văn A", "Chủ tịch UBND xã, Trần Thị B", "Phòng VH-XH, Lê Thị C"):
            reporter.expect(f"[DEMO → {label}] 🔴 KHẨN CẤP — hồ sơ {ref}")
        assert "02xx xxx xxxx (số ví dụ)" in reporter.output  # the demo's numbers say they are examples
        assert reporter.close() == 0
    finally:
        reporter.proc.kill()

    police = Terminal(tmp_path, "--demo-role", "police")
    try:
        police.expect("vai: Công an xã, Nguyễn Văn A (police)")
        # The alert printed for the police while the demo ran as the village head waits in their chat.
        police.expect("received while you were someone else")
        police.expect(f"🔴 KHẨN CẤP — hồ sơ {ref}")
        police.expect("Trợ giúp")
        police.type(f"nhan {ref}")  # typed without the slash
        police.expect(f"đã tiếp nhận hồ sơ {ref}")
        police.expect(f"[DEMO → Trưởng thôn, Hoàng Văn Bình] Hồ sơ {ref} đã được cán bộ tiếp nhận.")
        assert police.close() == 0
    finally:
        police.proc.kill()

    office = Terminal(tmp_path, "--demo-role", "office")
    try:
        office.expect(f"Hồ sơ {ref} đã được Nguyễn Văn A (Công an xã) tiếp nhận.")  # kept from the police's run
        office.expect("Trợ giúp")
        office.type("/vuviec")
        office.expect(ref)
        office.type("/xuat")
        office.expect("Đang chuẩn bị tệp số liệu")  # at once; the files follow when built
        link = re.search(r"Excel: (http://127\.0\.0\.1:\d+/files/\S+)", office.expect("(Đường dẫn có hiệu lực"))
        with urllib.request.urlopen(link.group(1), timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
            assert response.read(2) == b"PK"
        assert office.close() == 0
    finally:
        office.proc.kill()

    digest = subprocess.run([sys.executable, "-m", "bot", "digest", "--print", "--demo"], cwd=ROOT,
                            env=demo_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert digest.returncode == 0, digest.stderr
    assert "Tiếp nhận mới trong kỳ, mọi loại: 1 (khẩn cấp 1, trong đó đã xác nhận tiếp nhận báo động 1)" in digest.stdout


def test_demo_role_refused_where_it_would_not_be_the_demo(tmp_path):
    env = demo_env(tmp_path)
    env["TELEGRAM_BOT_TOKEN"] = "123:abc"  # the real bot would run: never as another person
    result = subprocess.run([sys.executable, "-m", "bot", "run", "--demo-role", "office"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--demo-role opens the terminal demo's database only" in result.stderr

    asyncio.run(_make_real_database(tmp_path / "demo.db"))  # a real database where the demo's would be
    screen = Terminal(tmp_path, "--demo-role", "office")
    try:
        screen.expect("it is not a demo database")
        assert screen.proc.wait(timeout=30) == 2
    finally:
        screen.proc.kill()
        os.close(screen.master)


def test_cli_demo_flag_needs_a_demo_database(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "figures", "--demo"], cwd=ROOT, env=demo_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no demo database" in result.stderr


async def _make_real_database(path: Path) -> None:
    """A database of the bot's schema with one person on Telegram, made with the bot's own code."""
    url = f"sqlite+aiosqlite:///{path}"
    keyring = keyring_for(url)
    engine = make_engine(url)
    await migrate(engine, keyring)
    async with session_factory(engine)() as session, session.begin():
        person = await create_person(session, now=datetime.now(UTC), name="Real", commune_id=None,
                                     roles=["office"], villages=[], org=None)
        await attach_identity(session, person.id, channel="telegram", account="", external_id="42",
                              chat_id="42", display_name="Real", now=datetime.now(UTC))
    await engine.dispose()


async def test_an_empty_line_gets_the_prompt_back_and_stores_nothing():
    """A line of nothing (or only spaces) is no message: nothing is stored, but the prompt comes
    back at once, so the demo does not look frozen."""
    import io

    from bot.channels.terminal import TerminalChannel

    class Inbox:
        stored: list = []

        async def put(self, event) -> bool:
            self.stored.append(event)
            return True

    inbox, out = Inbox(), io.StringIO()
    channel = TerminalChannel(inbox, stdin=io.StringIO("\n   \nxin chao\n"), stdout=out)
    await channel.start()
    await asyncio.wait_for(channel.closed.wait(), 5)
    await asyncio.sleep(0)  # the prompts the reader thread handed to the loop
    assert [e.text for e in inbox.stored] == ["xin chao"]
    assert out.getvalue() == "> > "
