"""The other side of the wire, in its own process: the Telegram emulator and the simulated people.

Telegram and the people typing are not in the bot's process in real life, and on a machine with
two cores they should not take the bot's (or the echo bot's) CPU time either. The bench starts
`python -m bench.loadgen` and speaks to it with one JSON object a line:

    {"cmd": "start", "limits": false}        -> {"api_url": ..., "file_url": ...}
    {"cmd": "run", "users": [[uid, village]], "script": "report" | "floor" | "echo", "reports": 1,
     "held_on": "2026-11-24" (report: the date "hôm qua" means to the bot),
     "steps": 14 (echo: messages per "report"), "timeout": 300, "think": [2, 5] (optional: seconds
     before each step, seeded per person's place in the list)}
                                               -> {"latencies": [...], "seconds": ..., "steps": ..., "errors": [...],
                                                   "emulator_cpu": seconds of this process's CPU during the run}
    {"cmd": "stop"}                           -> {"internal_errors": [...]}
    {"cmd": "exit"}

A step's latency runs from the moment the person's message (or button press) enters the
emulator to the moment the bot's answer to it appears there: the next question (a new message
with buttons), or for a toggled topic the edit of the question.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from datetime import date, datetime, timedelta

from bench.rig import TOKEN, TZ, BenchEmulator, newest_with
from core.i18n import translate
from storage.stats import campaign_on

NEW, EDIT, ANY = "new", "edit", "any"


def yesterday(now: datetime) -> date:
    """The date "hôm qua" means to a bot whose clock reads `now` (the bench's communes are in Vietnam)."""
    return now.astimezone(TZ).date() - timedelta(days=1)


def report_script(village: str, held_on: date) -> list[tuple[str, str, str]]:
    """One outreach report, as a village head files it, held "hôm qua" (`held_on` to the bot): 13 steps,
    and 14 when that date falls in a campaign of the plan (the bot then asks whether the session was part of
    it, right after the date: No)."""
    t = lambda msgid: translate("vi", msgid)  # noqa: E731
    campaign = [("press", t("No"), NEW)] if campaign_on(held_on) is not None else []
    return [
        ("say", "/baocao", NEW),
        ("press", village, NEW),
        ("say", "hôm qua", NEW),
        *campaign,
        ("press", t("Village meeting / conference"), NEW),
        ("press", "▫️ " + t("Law on Gender Equality"), EDIT),
        ("press", "▫️ " + t("Domestic violence prevention"), EDIT),
        ("press", t("Done"), NEW),
        ("say", "120", NEW),
        ("say", "50", NEW),
        ("say", "70", NEW),
        ("press", t("No"), NEW),
        ("press", t("Skip"), NEW),
        ("press", t("Confirm"), NEW),  # thanks, then the menu: the menu ends the answer
    ]


def steps_per_report(held_on: date) -> int:
    """The steps of one report held on that date: the echo bot gets as many messages per "report"."""
    return len(report_script("Thôn 1", held_on))


def echo_script(steps: int) -> list[tuple[str, str, str]]:
    return [("say", f"tin nhắn {i + 1}", ANY) for i in range(steps)]


FLOOR_BUTTON = "Tiếp"


def floor_script(held_on: date) -> list[tuple[str, str, str]]:
    """The report's steps, kind for kind, for the like-for-like floor (bench/rig.py EchoBot): a typed
    step is answered with a new message with a button; a press with the spinner stopped, the
    pressed message edited and a new message with a button — the calls the bot makes for each."""
    return [("say", f"tin nhắn {i + 1}", NEW) if kind == "say" else ("press", FLOOR_BUTTON, NEW)
            for i, (kind, _arg, _expect) in enumerate(report_script("Thôn 1", held_on))]


async def person(emu: BenchEmulator, uid: int, script, reports: int, timeout: float, out: list[float],
                 errors: list[str], marks: list[float], think=None, by_step: dict | None = None) -> None:
    """`think`: a seeded random.Random and (low, high): seconds the person pauses before each step,
    the same sequence for the bot and for the floor (seeded by the person's place in the list)."""
    chat = emu._user_chat(uid)
    for _ in range(reports):
        for index, (kind, arg, expect) in enumerate(script):
            if think is not None:
                rng, (low, high) = think
                await asyncio.sleep(rng.uniform(low, high))
            mark = chat.next_message_id  # the bot's answer comes after the person's message
            if kind == "press":
                try:
                    message_id, data = newest_with(emu, uid, arg)
                except LookupError as exc:
                    errors.append(f"{uid}: {exc}")
                    return
                edits = chat.messages[message_id].edits
            if expect == EDIT:
                predicate = lambda m, mid=message_id, e=edits: m.message_id == mid and m.edits > e  # noqa: E731
            elif expect == NEW:
                predicate = lambda m, mark=mark: m.message_id >= mark and m.edits == 0 and bool(m.buttons)  # noqa: E731
            else:
                predicate = lambda m, mark=mark: m.message_id >= mark  # noqa: E731
            wait = emu.expect(uid, predicate)
            started = time.perf_counter()
            marks.append(started)
            if kind == "say":
                await emu.send_text(uid, arg)
            else:
                await emu.press(uid, message_id, data)
            try:
                await asyncio.wait_for(asyncio.shield(wait.future), timeout)
            except TimeoutError:
                errors.append(f"{uid}: no answer to {arg!r} within {timeout:.0f} s\n{emu.dump(uid)[-600:]}")
                emu.done_waiting(uid)
                return
            emu.done_waiting(uid)
            out.append(wait.at - started)
            marks.append(wait.at)
            if by_step is not None:
                by_step.setdefault(index, []).append(wait.at - started)


async def run(emu: BenchEmulator, users: list, script: str, reports: int, timeout: float, *,
              held_on: date | None = None, steps: int | None = None, think: list[float] | None = None) -> dict:
    """The report script needs `held_on` (what "hôm qua" is to the bot), the echo one `steps`."""
    latencies: list[float] = []
    errors: list[str] = []
    marks: list[float] = []
    by_step: dict[int, list[float]] = {}
    for uid, _village in users:
        emu.user(uid, f"Người {uid}")
    if script == "report":
        scripts = {village: report_script(village, held_on) for _uid, village in users}
    elif script == "floor":
        scripts = {village: floor_script(held_on) for _uid, village in users}
    else:
        scripts = {village: echo_script(steps) for _uid, village in users}
    jobs = [person(emu, uid, scripts[village], reports, timeout, latencies, errors, marks,
                   (random.Random(n), tuple(think)) if think else None, by_step)
            for n, (uid, village) in enumerate(users)]
    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*jobs)
    cpu = time.process_time() - cpu  # this process's: the emulator and the people (a saturated one shows)
    seconds = (max(marks) - min(marks)) if marks else time.perf_counter() - started
    return {"latencies": latencies, "seconds": seconds, "steps": len(latencies), "errors": errors[:5],
            "failed": len(errors), "internal_errors": emu.internal_errors[:3], "emulator_cpu": cpu,
            "by_step": [sorted(by_step[i]) for i in sorted(by_step)]}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emu: BenchEmulator | None = None

    def reply(obj) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "start":
            emu = BenchEmulator(token=TOKEN, bot_username="bench_bot")
            emu.enforce_rate_limits = bool(msg.get("limits", False))
            await emu.start()
            reply({"api_url": emu.api_url, "file_url": emu.file_url})
        elif cmd == "run":
            held_on = date.fromisoformat(msg["held_on"]) if msg["script"] in ("report", "floor") else None
            steps = int(msg["steps"]) if msg["script"] == "echo" else None
            reply(await run(emu, msg["users"], msg["script"], int(msg.get("reports", 1)),
                            float(msg.get("timeout", 300)), held_on=held_on, steps=steps, think=msg.get("think")))
        elif cmd == "stop":
            errors = emu.internal_errors[:3] if emu else []
            if emu is not None:
                await emu.stop()
            emu = None
            reply({"internal_errors": errors})
        elif cmd == "exit":
            break
    if emu is not None:
        await emu.stop()


class LoadGen:
    """The bench's handle on the load generator process."""

    def __init__(self, proc) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls) -> LoadGen:
        from core.config import ROOT

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", cwd=str(ROOT), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**26,
        )
        return cls(proc)

    async def call(self, **msg) -> dict:
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator died (exit code {await self.proc.wait()})")
        return json.loads(line)

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.stdin.write(b'{"cmd": "exit"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 10)
            except (TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve())
