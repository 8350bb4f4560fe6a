"""Square's HTTP boundary as the Square connector meets it: the Square-Version header, the OAuth
access token (refreshed a little before it expires, and once more when Square refuses it), the one
"api" bucket, and errors translated once: 429 into RateLimited (honouring Retry-After when there is
one, else backing off: 1 s, doubling while 429s follow one another, up to a minute), 401 into
AuthExpired, 5xx and network failures into PartnerError, other refusals into PartnerRejected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from connectors.api_client import ConnectorClient
from connectors.base import (
    AuthExpired,
    Connector,
    PartnerError,
    PartnerRejected,
    RateLimited,
)
from connectors.square_format import errors_text, parse_iso

DEFAULT_RETRY_AFTER = 1.0  # the first wait after a 429 without Retry-After; it doubles while 429s follow
MOST_BACKOFF = 60.0
REFRESH_MARGIN = 300.0     # refresh this long before expiry (or a fifth of a short token's life)
TIMEOUT = aiohttp.ClientTimeout(total=30)
_REFRESHABLE = {"ACCESS_TOKEN_EXPIRED", "UNAUTHORIZED", "ACCESS_TOKEN_REVOKED"}


class SquareApi(ConnectorClient):
    """Calls on behalf of one connector, using its spec, session and limiter as they are at each
    call (the limiter may be replaced); with no session it opens its own, which close() closes.
    Rewrites the tokens in the spec's credentials."""

    def __init__(self, connector: Connector, version: str):
        super().__init__(connector)
        self._version = version
        self._own_session: aiohttp.ClientSession | None = None
        self._refresh_lock = asyncio.Lock()
        self._token_life: float | None = None
        self._throttled_in_a_row = 0

    async def close(self) -> None:
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    async def call(self, method: str, path: str, *, body: Any = None,
                   params: Mapping[str, str] | None = None) -> dict[str, Any]:
        token = await self.token()
        status, payload, retry_after = await self._send(method, path, token, body, params)
        if status == 401 and {e.get("code") for e in payload.get("errors") or []} & _REFRESHABLE:
            token = await self._refresh(stale=token)
            status, payload, retry_after = await self._send(method, path, token, body, params)
        return self._answer("api", f"{method} {path}", status, payload, retry_after)

    async def _send(self, method: str, path: str, token: str | None, body: Any,
                    params: Mapping[str, str] | None) -> tuple[int, dict[str, Any], float | None]:
        headers = {"Square-Version": self._version, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.spec.base_url.rstrip("/") + path
        try:
            async with self.limiter.sending("api" if token else "oauth"), self._http().request(
                    method, url, json=body, params=params, headers=headers, timeout=TIMEOUT) as answer:
                try:
                    payload = await answer.json(content_type=None)
                except ValueError:
                    payload = None  # a proxy's HTML error page
                payload = payload if isinstance(payload, dict) else {}
                return answer.status, payload, _retry_after(answer.headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PartnerError(f"Square {method} {path}: {exc!r}") from exc

    def _answer(self, operation: str, what: str, status: int, payload: dict[str, Any],
                retry_after: float | None) -> dict[str, Any]:
        if 200 <= status < 300:
            self._throttled_in_a_row = 0
            return payload
        detail = f"Square {what} answered {status}: {errors_text(payload)}"
        if status == 429:
            self._throttled_in_a_row += 1
            wait = retry_after if retry_after is not None else self._backoff()
            self.limiter.honour(operation, wait)
            raise RateLimited(detail, wait)
        if status == 401:
            raise AuthExpired(detail)
        if status >= 500:
            raise PartnerError(detail)
        raise PartnerRejected(detail)

    def _backoff(self) -> float:
        """A 429 without Retry-After (Square does not promise one): wait longer each time one
        follows another, so a throttled app does not keep the limit spent."""
        return min(MOST_BACKOFF, DEFAULT_RETRY_AFTER * 2 ** (self._throttled_in_a_row - 1))

    def _http(self) -> aiohttp.ClientSession:
        session: aiohttp.ClientSession | None = self._connector.session
        if session is not None:
            return session
        if self._own_session is None:
            self._own_session = aiohttp.ClientSession()
        return self._own_session

    async def token(self) -> str:
        token = self.spec.credentials.get("access_token")
        if not token or self._expiring():
            return await self._refresh(stale=token)
        return token

    def _expiring(self) -> bool:
        expires_at = self.spec.credentials.get("expires_at")
        if not expires_at:
            return False  # a token of unknown life lasts until Square says it expired
        margin = min(REFRESH_MARGIN, (self._token_life or REFRESH_MARGIN * 5) / 5)
        return parse_iso(expires_at) - time.time() <= margin

    async def _refresh(self, stale: str | None) -> str:
        """One refresh at a time: a call that waited finds the token another call just got."""
        async with self._refresh_lock:
            current = self.spec.credentials.get("access_token")
            if current and current != stale and not self._expiring():
                return current
            creds = self.spec.credentials
            body = {"client_id": creds.get("client_id"), "client_secret": creds.get("client_secret"),
                    "grant_type": "refresh_token", "refresh_token": creds.get("refresh_token")}
            status, payload, retry_after = await self._send("POST", "/oauth2/token", None, body, None)
            if 400 <= status < 500 and status != 429:
                raise AuthExpired(f"Square refused the refresh token ({status}): {errors_text(payload)}")
            payload = self._answer("oauth", "POST /oauth2/token", status, payload, retry_after)
            token = payload.get("access_token")
            if not token:
                raise AuthExpired("Square's token answer carried no access_token")
            creds["access_token"] = str(token)
            if payload.get("expires_at"):
                creds["expires_at"] = str(payload["expires_at"])
                self._token_life = parse_iso(creds["expires_at"]) - time.time()
            if payload.get("refresh_token"):
                creds["refresh_token"] = str(payload["refresh_token"])
            return creds["access_token"]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: Square sends none, the default wait will do
