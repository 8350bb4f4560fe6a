"""Etsy Open API v3's HTTP boundary as the Etsy connector meets it: the app key on every call, the
OAuth access token (refreshed when due, and once more when Etsy calls it invalid; the refresh token
rotates on every use, so the new one is written back at once), the per-second and per-day buckets,
and errors translated once: 429 into RateLimited (how long to wait is etsy_quota's call: Etsy's 429
says neither which limit it is nor when to come back), 5xx and network failures into PartnerError, 404
into Gone and other refusals into PartnerRejected.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any, NoReturn

import aiohttp

from connectors.api_client import ConnectorClient
from connectors.base import (
    AuthExpired,
    Connector,
    PartnerError,
    PartnerRejected,
    RateLimited,
)
from connectors.etsy_quota import SPENT_DAY_WAIT, QuotaWatch

TOKEN_PATH = "/v3/public/oauth/token"
PER_DAY = 10_000


class Gone(PartnerRejected):
    """Etsy answered 404: the listing or receipt is no longer there."""


class EtsyApi(ConnectorClient):
    """Calls on behalf of one connector, using its spec, session and limiter as they are at each
    call (the limiter may be replaced). Rewrites the tokens in the spec's credentials."""

    def __init__(self, connector: Connector):
        super().__init__(connector)
        self._auth_lock = asyncio.Lock()
        self.refreshes = 0
        self.quota = QuotaWatch(float(self.spec.options.get("spent_day_wait_s", SPENT_DAY_WAIT)))

    async def call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                   body: Any = None) -> Any:
        """One API call; on Etsy's expired/invalid token answer, refresh once and try once more."""
        token = await self.token()
        used = self.spec.credentials.get("access_token")
        status, data = await self._send(method, path, params=params, json_body=body, token=token)
        if status == 401 and _error(data) == "invalid_token":
            await self._refresh(stale=used)
            token = await self.token()
            status, data = await self._send(method, path, params=params, json_body=body, token=token)
            if status == 401:
                raise AuthExpired(f"Etsy refused a fresh token: {_describe(data)}")
        if status >= 400:
            rejected = Gone if status == 404 else PartnerRejected
            raise rejected(f"Etsy {method} {path}: {status} {_describe(data)}")
        return data

    async def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    json_body: Any = None, form: Mapping[str, str] | None = None,
                    token: str | None = None) -> tuple[int, Any]:
        creds = self.spec.credentials
        headers = {"x-api-key": f"{creds['keystring']}:{creds['shared_secret']}"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self.spec.base_url.rstrip("/") + path
        await self.limiter.acquire("daily")
        try:
            async with self.limiter.sending("request"):
                self.quota.sent()
                async with self._connector.session.request(method, url, params=params, json=json_body,
                                                           data=form, headers=headers) as answer:
                    text = await answer.text()
                    status, answer_headers = answer.status, answer.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PartnerError(f"Etsy {method} {path}: {exc!r}") from exc
        data = _json(text)
        if status == 429:
            self._throttled(f"Etsy {method} {path}: 429 {_describe(data)}", answer_headers)
        if status < 400:
            self.quota.answered(answer_headers, time.time())
        self._watch_daily(answer_headers)
        if status >= 500:
            raise PartnerError(f"Etsy {method} {path}: {status} {_describe(data)}")
        return status, data

    def _throttled(self, detail: str, headers: Mapping[str, str]) -> NoReturn:
        """Etsy's 429 says neither which limit nor how long: the counts seen last decide."""
        throttle = self.quota.throttled(time.time())
        wait = max(throttle.wait, _seconds(headers.get("retry-after"), 0.0))
        self.limiter.honour("request", wait)
        if throttle.day_spent:
            self.limiter.honour("daily", wait)
        raise RateLimited(f"{detail}: {throttle.reason}; waiting {wait:g} s", wait)

    def _watch_daily(self, headers: Mapping[str, str]) -> None:
        """Etsy's count of the day is the truth (other tools may share the app's key): with none left,
        wait until one comes back."""
        if headers.get("x-remaining-today") == "0":
            per_day = _seconds(headers.get("x-limit-per-day"), PER_DAY)
            self.limiter.honour("daily", 86_400 / max(per_day, 1.0))

    async def token(self) -> str:
        creds = self.spec.credentials
        token = creds.get("access_token")
        if not token or time.time() >= _seconds(creds.get("access_token_expires_at"), 0.0):
            await self._refresh(stale=token)
            token = creds["access_token"]
        user = creds.get("user_id", "")
        return token if not user or token.startswith(f"{user}.") else f"{user}.{token}"

    async def _refresh(self, stale: str | None) -> None:
        """Trade the refresh token for a new pair. Serialised, and skipped when another task already
        replaced the token we found stale: the refresh token works only once."""
        async with self._auth_lock:
            creds = self.spec.credentials
            if creds.get("access_token") != stale:
                return
            status, data = await self._send("POST", TOKEN_PATH, form={
                "grant_type": "refresh_token", "client_id": creds["keystring"],
                "refresh_token": creds["refresh_token"]})
            if status != 200 or not isinstance(data, Mapping) or "access_token" not in data:
                raise AuthExpired(f"Etsy refused the refresh token: {status} {_describe(data)}")
            lifetime = float(data.get("expires_in", 3600))
            creds["refresh_token"] = str(data["refresh_token"])
            creds["access_token"] = str(data["access_token"])
            creds["access_token_expires_at"] = str(time.time() + lifetime - min(60.0, lifetime / 10))
            self.refreshes += 1


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"error": text[:200]}


def _error(data: Any) -> str:
    return str(data.get("error", "")) if isinstance(data, Mapping) else ""


def _describe(data: Any) -> str:
    if isinstance(data, Mapping) and "error" in data:
        detail = data.get("error_description")
        return f"{data['error']} ({detail})" if detail else str(data["error"])
    return str(data)[:200]


def _seconds(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
