"""The channels' pacing (bot/channels/limits.py): an alert takes the next token ahead of the sends
already waiting, so a broadcast queued in the bucket never holds it back."""

from __future__ import annotations

import asyncio

from bot.channels.limits import URGENT, RateLimiter


async def test_an_urgent_send_takes_the_next_token_ahead_of_the_waiting_ones():
    limiter = RateLimiter(rate=100, burst=1)  # one token every 10 ms
    order: list[str] = []

    async def send(name: str, urgent: bool = False) -> None:
        URGENT.set(urgent)
        await limiter.acquire()
        order.append(name)

    broadcast = [asyncio.create_task(send(f"digest {n}")) for n in range(20)]
    await asyncio.sleep(0.005)  # they are all waiting in the bucket (the first took the only token)
    alert = asyncio.create_task(send("alert", urgent=True))
    await asyncio.gather(*broadcast, alert)
    assert order.index("alert") <= 2, order  # not 21st: at most the one or two already being served
    assert sorted(order) == sorted([f"digest {n}" for n in range(20)] + ["alert"])  # nobody lost


async def test_without_an_alert_the_sends_keep_their_order():
    limiter = RateLimiter(rate=200, burst=1)
    order: list[int] = []

    async def send(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    await asyncio.gather(*(send(n) for n in range(15)))
    assert order == list(range(15))
