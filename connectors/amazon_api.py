"""The Selling Partner API's HTTP boundary as the Amazon connector meets it: LWA access tokens
(refreshed a little before they expire, and once more when Amazon refuses one), every operation
paced by the connector's limiter, and errors translated once into PartnerError, RateLimited,
AuthExpired and PartnerRejected.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from yarl import URL

from connectors import amazon_format as fmt
from connectors.api_client import ConnectorClient
from connectors.base import (
    AuthExpired,
    Connector,
    PartnerError,
    PartnerRejected,
    RateLimited,
)


class SellingPartnerApi(ConnectorClient):
    """Calls on behalf of one connector, using its spec, session and limiter as they are at each
    call (the limiter may be replaced). Rewrites the access token in the spec's credentials."""

    def __init__(self, connector: Connector, auth_url: str):
        super().__init__(connector)
        self._auth_url = auth_url
        self.refreshes = 0
        self._refresh_lock = asyncio.Lock()
        self._refresh_at: float | None = None
        self._grantless: tuple[str, float] | None = None   # (token, refresh after), never persisted

    def url(self, path: str) -> str:
        return self.spec.base_url.rstrip("/") + path

    async def send(self, method: str, url: str | URL, *, token: str | None = None, params: Any = None,
                   body: Any = None, data: Any = None, content_type: str | None = None) -> tuple[int, Any]:
        headers = {"x-amz-access-token": token} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self._connector.session.request(method, url, params=params, json=body, data=data,
                                                       headers=headers) as answer:
                raw = await answer.read()
                return answer.status, decoded(raw)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PartnerError(f"{method} {url}: {exc!r}") from exc

    async def call(self, op: str, method: str, url: str | URL, *, auth: bool = True, grantless: bool = False,
                   missing_ok: bool = False, conflict_ok: bool = False, **request: Any) -> Any:
        """One SP-API operation: paced by our bucket, authorised (with the seller's token, or the
        app's own for a grantless operation), refreshed and retried once on 403."""
        status, answer, token = await self._attempt(op, method, url, auth, grantless, request)
        if auth and status == 403 and fmt.is_unauthorized(answer):
            if grantless:
                self._grantless = None
            else:
                await self.refresh(stale=token)
            status, answer, _ = await self._attempt(op, method, url, auth, grantless, request)
            if status == 403 and fmt.is_unauthorized(answer):
                raise AuthExpired(f"{op}: {fmt.error_text(answer)}")
        if (status == 404 and missing_ok) or (status == 409 and conflict_ok):
            return None
        return self.checked(op, status, answer)

    async def _attempt(self, op: str, method: str, url: str | URL, auth: bool, grantless: bool,
                       request: dict[str, Any]) -> tuple[int, Any, str | None]:
        token = None
        if auth:
            token = await self.grantless_token() if grantless else await self.access_token()
        # the bucket's token last, just before the send: taken before a token refresh, the calls
        # queued behind the refresh all went out at once when it came, faster than Amazon's rate
        async with self.limiter.sending(op):
            status, answer = await self.send(method, url, token=token, **request)
        return status, answer, token

    def checked(self, op: str, status: int, answer: Any) -> Any:
        if 200 <= status < 300:
            return answer
        text = fmt.error_text(answer)
        if status == 429:
            # Amazon sends no Retry-After: its bucket gives a token back 1/rate seconds later.
            published = self._connector.limits.get(op)
            wait = 1.0 / published.rate if published else 1.0
            self.limiter.honour(op, wait)
            raise RateLimited(f"{op}: {text}", wait)
        if status >= 500:
            raise PartnerError(f"{op}: {status} {text}")
        raise PartnerRejected(f"{op}: {status} {text}")

    # --- LWA -----------------------------------------------------------------------------------------

    async def access_token(self) -> str:
        creds = self.spec.credentials
        token = creds.get("access_token", "")
        refresh_at = self._refresh_at
        if refresh_at is None:   # a token persisted by an earlier run: trust it to a minute before expiry
            refresh_at = _number(creds.get("access_token_expires_at")) - 60
        if token and time.time() < refresh_at:
            return token
        return await self.refresh(stale=token)

    async def refresh(self, stale: str | None) -> str:
        async with self._refresh_lock:
            creds = self.spec.credentials
            if creds.get("access_token") and creds["access_token"] != stale:
                return creds["access_token"]   # another call refreshed while this one waited
            form = {"grant_type": "refresh_token", "refresh_token": creds.get("refresh_token", ""),
                    "client_id": creds.get("client_id", ""), "client_secret": creds.get("client_secret", "")}
            answer = await self._lwa(form, "the refresh token")
            now, lifetime = time.time(), _number(answer.get("expires_in"), 3600.0)
            creds["access_token"] = str(answer["access_token"])
            creds["access_token_expires_at"] = f"{now + lifetime:.3f}"
            if answer.get("refresh_token"):
                creds["refresh_token"] = str(answer["refresh_token"])
            self._refresh_at = now + lifetime - min(60.0, lifetime / 10)
            self.refreshes += 1
            return creds["access_token"]


    async def _lwa(self, form: dict[str, str], what: str) -> dict[str, Any]:
        """A token answer from LWA; AuthExpired when it refuses `what`, PartnerError when it fails."""
        async with self.limiter.sending("lwaToken"):
            status, answer = await self.send("POST", self._auth_url, data=form)
        if status >= 500:
            raise PartnerError(f"LWA token: {status} {answer}")
        if status != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
            raise AuthExpired(f"LWA refused {what}: {_lwa_error(answer)}")
        return answer

    async def grantless_token(self) -> str:
        """The app's own LWA token for grantless operations (the Notifications API's destinations):
        client credentials with the notifications scope, no seller involved."""
        if self._grantless is not None and time.time() < self._grantless[1]:
            return self._grantless[0]
        creds = self.spec.credentials
        form = {"grant_type": "client_credentials", "scope": fmt.NOTIFICATIONS_SCOPE,
                "client_id": creds.get("client_id", ""), "client_secret": creds.get("client_secret", "")}
        answer = await self._lwa(form, "the client credentials")
        lifetime = _number(answer.get("expires_in"), 3600.0)
        self._grantless = (str(answer["access_token"]), time.time() + lifetime - min(60.0, lifetime / 10))
        return self._grantless[0]


def decoded(raw: bytes) -> Any:
    """JSON when the body is JSON ({} when empty), else the bytes as they came."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _lwa_error(answer: Any) -> str:
    if isinstance(answer, dict) and answer.get("error"):
        return f"{answer['error']}: {answer.get('error_description', '')}"
    return str(answer)[:300]
