"""python-telegram-bot's requests over aiohttp (bot/channels/telegram_http.py), against a loopback
server: fields and files arrive as PTB meant them, and a slow or absent server raises the errors
PTB's callers handle (TimedOut, NetworkError)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram_http import AiohttpRequest


@pytest.fixture
async def server():
    seen: list[dict] = []

    async def echo(request: web.Request) -> web.Response:
        form = await request.post()
        got = {"content_type": request.content_type}
        for name, value in form.items():
            got[name] = (value.filename, value.file.read(), value.content_type) if hasattr(value, "file") else value
        seen.append(got)
        return web.json_response({"ok": True, "result": True})

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port the OS chose
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_fields_go_urlencoded_and_files_as_multipart(server):
    url, seen = server
    request = AiohttpRequest()
    await request.initialize()
    try:
        plain = RequestData([RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("text", "Chào anh Ba")])
        assert await request.do_request(f"{url}/echo", "POST", plain) == (200, b'{"ok": true, "result": true}')
        book = InputFile(b"PK\x03\x04 workbook", filename="ban-tin.xlsx", attach=True)
        upload = RequestData([RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("document", book)])
        status, body = await request.do_request(f"{url}/echo", "POST", upload)
        assert status == 200 and json.loads(body)["ok"] is True
    finally:
        await request.shutdown()
    assert seen[0] == {"content_type": "application/x-www-form-urlencoded", "chat_id": "42", "text": "Chào anh Ba"}
    assert seen[1]["content_type"] == "multipart/form-data"
    assert seen[1]["chat_id"] == "42" and seen[1]["document"] == book.attach_uri
    assert seen[1][book.attach_name] == ("ban-tin.xlsx", b"PK\x03\x04 workbook", book.mimetype)


async def test_a_slow_answer_times_out_and_no_server_is_a_network_error(server):
    url, _seen = server
    request = AiohttpRequest(read_timeout=0.3)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{url}/slow", "POST", RequestData([]))
        assert await request.do_request(f"{url}/slow", "POST", RequestData([]), read_timeout=3) == (
            200, b'{"ok": true, "result": true}')  # a longer timeout for this call alone (getUpdates)
        with pytest.raises(NetworkError, match="aiohttp"):
            await request.do_request("http://127.0.0.1:1/echo", "POST", RequestData([]))
    finally:
        await request.shutdown()
    with pytest.raises(RuntimeError):  # shut down: no request goes out
        await request.do_request(f"{url}/echo", "POST", RequestData([]))


async def test_a_proxy_in_the_environment_carries_the_requests(server, monkeypatch):
    """Where Telegram is reachable only through a proxy, HTTPS_PROXY / HTTP_PROXY is all it takes
    (as with PTB's default httpx): the loopback server here plays the proxy for a host no resolver
    knows."""
    url, seen = server
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    request = AiohttpRequest()
    await request.initialize()
    try:
        fields = RequestData([RequestParameter.from_input("chat_id", 7)])
        assert (await request.do_request("http://api.telegram.invalid/echo", "POST", fields))[0] == 200
    finally:
        await request.shutdown()
    assert seen == [{"content_type": "application/x-www-form-urlencoded", "chat_id": "7"}]


async def test_no_proxy_sends_a_host_direct(server, monkeypatch):
    """A host NO_PROXY names goes straight to the server, whatever HTTP_PROXY says (here a port
    nothing listens on: through it the request would fail)."""
    url, seen = server
    for name in ("no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    request = AiohttpRequest()
    await request.initialize()
    try:
        fields = RequestData([RequestParameter.from_input("chat_id", 8)])
        assert (await request.do_request(f"{url}/echo", "POST", fields))[0] == 200
        with pytest.raises(NetworkError):  # a host NO_PROXY does not name goes through the dead proxy
            await request.do_request("http://api.telegram.invalid/echo", "POST", fields)
    finally:
        await request.shutdown()
    assert seen == [{"content_type": "application/x-www-form-urlencoded", "chat_id": "8"}]
