"""The partner webhook ingress (aiohttp): `POST /webhooks/{partner_id}`.

Each delivery's signature is checked on the raw body exactly as the partner signs it, by the
partner's connector the fleet holds (bad or missing: 401, nothing applied, logged in the partner's
sync log at most web/ingress_refusals.PER_MINUTE times a minute, the rest counted in one row); then the
delivery goes straight to the partner's connector actor, whose sync dedupes it on the partner's
event id, turns it into orders through the shards and answers after the commit. Only then do we
answer 2xx, so a partner that does not hear back retries, and a retry is harmless. A signed delivery
whose body cannot be read is the partner's own mistake: 400 naming it, never a 5xx (which would
only bring the same body back)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from inventory.desk import ShardUnavailable
from service import tracing
from service.partners import UnknownPartner
from service.runtime import Runtime
from web.ingress_refusals import RefusalLog
from web.ingress_traces import ingress_middleware
from web.problems import RETRY_AFTER
from web.request_ids import ingress_request_ids

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = 4.5  # seconds: Shopify gives 5, Square 10; answering late makes them retry anyway


def _error(status: int, code: str, message: str) -> web.Response:
    # a 503 (a shard or the partner's connector failing over) says when to redeliver: it is safe
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def create_ingress(runtime: Runtime, body_timeout: float = 10.0) -> web.Application:
    fleet = runtime.partners
    refusals = RefusalLog(lambda: runtime.engine)

    async def healthz(_request: web.Request) -> web.Response:
        if runtime.ready:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "starting"}, status=503)

    async def webhook(request: web.Request) -> web.Response:
        partner_id = request.match_info["partner_id"]
        try:
            body = await asyncio.wait_for(request.read(), body_timeout)
        except TimeoutError:
            log.info("webhook for %s: the body stalled for over %.0f s; answered 408",
                     partner_id, body_timeout)
            return _error(408, "request_timeout", f"body: not received within {body_timeout:.0f} s")
        except (ConnectionError, ClientPayloadError, HttpProcessingError) as exc:
            # the partner went away mid-body: nobody is left to answer, and it will retry
            log.info("webhook for %s: the client went away mid-body (%s)", partner_id, type(exc).__name__)
            return _error(400, "incomplete_body", "body: the connection closed before the body ended")
        try:
            good = fleet.verify(partner_id, request.headers, body, fleet.webhook_url(partner_id))
        except UnknownPartner:
            return _error(404, "unknown_partner",
                          f"partner_id: no partner {partner_id!r} takes webhooks here")
        if not good:
            await refusals.refused(partner_id, "bad or missing signature")
            return _error(401, "bad_signature",
                          f"signature: the delivery for {partner_id} is not signed with its secret")
        try:
            actor = fleet.actor(partner_id)
            trace = tracing.carrier()  # the request's span, when traced
            call = (actor.take_webhook.remote(dict(request.headers), body) if trace is None
                    else actor.take_webhook.remote(dict(request.headers), body, trace))
            result = await asyncio.wait_for(call, WEBHOOK_TIMEOUT)
        except ShardUnavailable as exc:
            return _error(503, "unavailable", f"{exc}; the partner's retry is safe")
        except TimeoutError:   # its text is empty: say what happened
            return _error(503, "unavailable", f"the delivery was not taken within {WEBHOOK_TIMEOUT:g} s; "
                                              "the partner's retry is safe")
        except Exception:
            # the details go to our log, never to the caller: a 5xx tells the partner to retry
            log.exception("webhook for %s failed", partner_id)
            return _error(500, "webhook_failed", "the delivery could not be taken now; a retry is safe")
        if result.get("status") == "malformed":
            # signed, so it is the partner's own: a retry of the same body cannot succeed
            return _error(400, "malformed_delivery", f"body: {partner_id}'s delivery could not be read: "
                                                     f"{result.get('error', '')}")
        return web.json_response(result)

    async def flush_refusals(_app: web.Application) -> None:
        await refusals.flush()

    app = web.Application(client_max_size=2 * 1024 * 1024,
                          middlewares=[*ingress_middleware(), ingress_request_ids])
    app.on_cleanup.append(flush_refusals)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhooks/{partner_id}", webhook)
    return app
