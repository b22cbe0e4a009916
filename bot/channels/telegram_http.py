"""python-telegram-bot's requests to the Bot API over aiohttp (PTB's `BaseRequest`), instead of its
default httpx.

Why: httpcore, under httpx, checks every pooled connection on every request (a `getpeername`
and a `poll` per idle connection, through anyio's socket attributes); in the steps bench at 100
reporters, moving to aiohttp cut the bot's CPU per step by about a quarter. aiohttp is already
the Zalo channels' client. PTB still builds the requests and parses the answers; only the transport is
swapped, as PTB provides for (`telegram.request.BaseRequest`).
"""

from __future__ import annotations

import asyncio
import urllib.request
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT = BaseRequest.DEFAULT_NONE


class AiohttpRequest(BaseRequest):
    """At most `connections` open at once; a request waits up to `pool_timeout` for one of them."""

    def __init__(self, *, connections: int = 8, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        self._connections = connections
        self._read, self._write, self._connect, self._pool = read_timeout, write_timeout, connect_timeout, pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host:port) -> proxy URL or None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
                # Not trust_env: with it aiohttp reads ~/.netrc and the proxy variables again on
                # every request, each time in a worker thread (two thread hops per call). The
                # proxy is looked up once per host instead (_proxy).
            )
            self._proxies.clear()

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=_DEFAULT, write_timeout=_DEFAULT, connect_timeout=_DEFAULT,
                         pool_timeout=_DEFAULT) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = self._read if read_timeout is _DEFAULT else read_timeout
        write = (self._media_write if files else self._write) if write_timeout is _DEFAULT else write_timeout
        connect = self._connect if connect_timeout is _DEFAULT else connect_timeout
        pool = self._pool if pool_timeout is _DEFAULT else pool_timeout
        # aiohttp has no write timeout of its own: the whole request is bounded by the sum.
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts), sock_connect=connect, sock_read=read,
            connect=None if pool is None or connect is None else pool + connect)
        data = _form(fields, files) if files else fields
        try:
            async with self._session.request(method, url, data=data, timeout=timeout,
                                             proxy=self._proxy(url)) as response:
                return response.status, await response.read()
        except (TimeoutError, asyncio.TimeoutError) as err:  # noqa: UP041 - aiohttp raises either
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


    def _proxy(self, url: str) -> str | None:
        """HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, as httpx honoured them: where
        Telegram is reachable only through a proxy, setting it is all it takes. Read at the first
        request to a host after initialize(); credentials may be given in the proxy's URL."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            bypass = parts.hostname is not None and urllib.request.proxy_bypass(parts.hostname)
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(parts.scheme)
        return self._proxies[key]


def _form(fields: dict[str, str] | None, files) -> aiohttp.FormData:
    """multipart/form-data: the parameters as fields, each file as (name, content, mime type)."""
    form = aiohttp.FormData()
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    for name, part in files.items():
        if isinstance(part, tuple):
            filename, content, mime = part
            form.add_field(name, content, filename=filename, content_type=mime)
        else:
            form.add_field(name, part)
    return form
