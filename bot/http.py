"""The bot's own HTTP server: webhooks now; health, metrics and file links later."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

# The runtime's own routes (metrics) add factories here: each gets the App and returns aiohttp
# route definitions. The domain's routes are handlers.registry.ROUTES, adapted by `domain_routes`.
ROUTE_FACTORIES: list = []


def domain_routes(routes, services, sessions) -> list:
    """aiohttp routes for the specs features registered: the domain never sees a request object."""
    out = []
    for spec in routes:
        async def answer(request: web.Request, spec=spec) -> web.Response:
            got = await spec.run(services, sessions, dict(request.match_info), services.clock.now())
            content_type, _, charset = got.media_type.partition("; charset=")
            return web.Response(status=got.status, body=got.body, content_type=content_type,
                                charset=charset or None, headers=got.headers or {})
        out.append(web.route(spec.method, spec.path, answer))
    return out


class HttpServer:
    def __init__(self, host: str, port: int, sessions) -> None:
        self.host, self.port = host, port
        self.sessions = sessions
        self.app = web.Application(client_max_size=2 * 1024 * 1024)
        self.app.router.add_get("/healthz", self._health)
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    def add_routes(self, routes) -> None:
        self.app.router.add_routes(routes)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.bound_port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health(self, _request: web.Request) -> web.Response:
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})
