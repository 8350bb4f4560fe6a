"""The partner webhook ingress (aiohttp). Partner connectors register their verifiers here with the
partner work; until a partner is configured, a webhook for it is refused with a clear error."""

from __future__ import annotations

from aiohttp import web

from service.runtime import Runtime


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def create_ingress(runtime: Runtime) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        if runtime.ready:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "starting"}, status=503)

    async def webhook(request: web.Request) -> web.Response:
        partner_id = request.match_info["partner_id"]
        return _error(404, "unknown_partner", f"partner_id: no partner {partner_id!r} takes webhooks here")

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhooks/{partner_id}", webhook)
    return app
