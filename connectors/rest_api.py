"""The HTTP boundary of a `rest` partner, as its declaration describes it: the auth header (an API
key, a bearer token, or an OAuth2 client-credentials token fetched and refreshed here), the one
"api" bucket, the declared statuses retried in place with a growing pause, and errors translated
once: 429 into RateLimited (with the partner's Retry-After), 401 into AuthExpired (after one fresh
token, for OAuth2), other declared statuses and network failures into PartnerError, the rest into
PartnerRejected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from connectors.api_client import ConnectorClient
from connectors.base import AuthExpired, Connector, PartnerError, PartnerRejected, RateLimited
from connectors.rest_declaration import Declaration

DEFAULT_RETRY_AFTER = 1.0
TIMEOUT = aiohttp.ClientTimeout(total=30)
_Answer = tuple[int, Any, float | None]


class RestApi(ConnectorClient):
    def __init__(self, connector: Connector, declared: Declaration):
        super().__init__(connector)
        self._declared = declared
        self._token_lock = asyncio.Lock()
        self._token_expires = 0.0

    async def call(self, method: str, path: str, *, body: Any = None,
                   params: Sequence[tuple[str, str]] = ()) -> Any:
        """One call; a declared status (429 aside, which the sync waits out) is tried again here,
        up to `retry.attempts` in all, pausing backoff_s, then twice that, and so on."""
        declared = self._declared
        attempt = 0
        while True:
            status, payload, retry_after = await self._send(method, path, body, params)
            if status == 401 and declared.auth.type == "oauth2_client_credentials":
                self._token_expires = 0.0   # refused before its time: fetch another, once
                status, payload, retry_after = await self._send(method, path, body, params)
            attempt += 1
            if status == 429 or status not in declared.retry_statuses or attempt >= declared.retry_attempts:
                return self._answer(f"{method} {path}", status, payload, retry_after)
            await asyncio.sleep(declared.retry_backoff_s * 2 ** (attempt - 1))

    async def _send(self, method: str, path: str, body: Any, params: Sequence[tuple[str, str]]) -> _Answer:
        headers = {"Accept": "application/json", **self._declared.headers, **await self._auth_headers()}
        async with self.limiter.sending("api"):
            return await self._request(method, path, headers, json=body, params=list(params))

    async def _request(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> _Answer:
        url = self.spec.base_url.rstrip("/") + path
        try:
            async with self._http().request(method, url, headers=headers, timeout=TIMEOUT,
                                            **kwargs) as answer:
                try:
                    payload = await answer.json(content_type=None)
                except ValueError:
                    payload = None   # a proxy's HTML error page
                return answer.status, payload, _retry_after(answer.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PartnerError(f"{self.spec.id} {method} {path}: {exc!r}") from exc

    def _answer(self, what: str, status: int, payload: Any, retry_after: float | None) -> Any:
        if 200 <= status < 300:
            return payload
        detail = f"{self.spec.id} {what} answered {status}: {str(payload)[:300]}"
        if status == 429:
            wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
            self.limiter.honour("api", wait)
            raise RateLimited(detail, wait)
        if status in (401, 403):
            raise AuthExpired(detail)
        if status in self._declared.retry_statuses or status >= 500:
            raise PartnerError(detail)
        raise PartnerRejected(detail)

    async def _auth_headers(self) -> dict[str, str]:
        auth, creds = self._declared.auth, self.spec.credentials
        if auth.type == "api_key":
            return {auth.header: creds.get(auth.credential, "")}
        if auth.type == "bearer":
            return {auth.header: f"Bearer {creds.get(auth.credential, '')}"}
        return {auth.header: f"Bearer {await self._client_token()}"}

    async def _client_token(self) -> str:
        """OAuth2 client credentials (RFC 6749 4.4): one fetch at a time, a little before expiry."""
        async with self._token_lock:
            creds = self.spec.credentials
            if creds.get("access_token") and time.time() < self._token_expires - 30:
                return creds["access_token"]
            form = {"grant_type": "client_credentials", "client_id": creds.get("client_id", ""),
                    "client_secret": creds.get("client_secret", "")}
            if self._declared.auth.scope:
                form["scope"] = self._declared.auth.scope
            async with self.limiter.sending("api"):
                status, payload, retry_after = await self._request(
                    "POST", self._declared.auth.token_path, {"Accept": "application/json"}, data=form)
            if status in (400, 401):
                raise AuthExpired(f"{self.spec.id} refused the client credentials ({status}): {payload}")
            payload = self._answer("POST token", status, payload, retry_after)
            if not isinstance(payload, dict) or not payload.get("access_token"):
                raise AuthExpired(f"{self.spec.id}'s token answer carried no access_token")
            creds["access_token"] = str(payload["access_token"])
            self._token_expires = time.time() + float(payload.get("expires_in") or 3600)
            return creds["access_token"]

    def _http(self) -> aiohttp.ClientSession:
        """The actor's session: a connector made without one only verifies webhooks, which a
        `rest` partner has none of, so a call here is a mistake, refused rather than made."""
        session: aiohttp.ClientSession | None = self._connector.session
        if session is None:
            raise PartnerError(f"{self.spec.id}: this connector was made without an HTTP session")
        return session


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None   # an HTTP date: the default wait will do
