"""A bot process on its own, for the memory and start-up figures: `python -m bench.botproc`.

Started by bench/memory.py with the environment naming the database (BENCH_DB_URL), the
emulator (BENCH_API_URL, BENCH_FILE_URL), how many communes (BENCH_COMMUNES) and what to run
(BENCH_MODE: "bot", the App with its TelegramChannel; "echo", the bare python-telegram-bot
echo bot). It prints one JSON line when it is up: {"startup": s, "imports": s, "rss": MB}; then
on "measure" one with its RSS and peak RSS, and on "stop" it stops and exits.
"""

from __future__ import annotations

import time

_BEGAN = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from bench.rig import EchoBot, bot_config, keyring_of, province, rss_mb, start_bot  # noqa: E402


async def main() -> None:
    imports = time.perf_counter() - _BEGAN
    env = os.environ
    mode = env.get("BENCH_MODE", "bot")
    started = time.perf_counter()
    if mode == "echo":
        runner = EchoBot(env["BENCH_API_URL"], env["BENCH_FILE_URL"], poll_timeout=1)
        await runner.start()
        stop = runner.stop
    else:
        config = bot_config(province(int(env.get("BENCH_COMMUNES", "1"))), env["BENCH_DB_URL"],
                            api_url=env["BENCH_API_URL"], file_url=env["BENCH_FILE_URL"], poll_timeout=1)
        app, _channel = await start_bot(config, env["BENCH_DB_URL"], keyring_of(env["BOT_SECRET_KEY"]))
        stop = app.stop
    startup = time.perf_counter() - started

    def say(obj) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    say({"startup": startup, "imports": imports, "rss": rss_mb()[0]})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "measure":
            rss, peak = rss_mb()
            say({"rss": rss, "peak": peak})
        elif line in ("stop", ""):
            await stop()
            say({"stopped": True})
            return


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main())
