"""eBay's Trading API as the eBay connector calls it: zeep builds and reads the SOAP 1.1 envelopes
from eBay's WSDL, and aiohttp carries them.

The WSDL is read once, asynchronously, from `options["wsdl_url"]` (default `{base_url}/wsdl`; for
production, eBay publishes it at https://developer.ebay.com/webservices/latest/ebaySvc.wsdl) and
handed to zeep, whose own loading is synchronous and would stall the actor's event loop. Each call
goes to `{base_url}/wsapi?callname=...&siteid=...&appid=...&version=...&routing=new` with the
auth token in the `RequesterCredentials/eBayAuthToken` SOAP header.

Errors are translated once, here: error 518 (call usage limit) into RateLimited, 931 and the other
token errors into AuthExpired, a SOAP fault or HTTP failure from eBay's side into PartnerError, a
SOAP fault from ours (a client fault) into PartnerRejected. A response with `Ack` Failure for other
reasons is returned to the caller, which reads its `Errors` per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import requests
import zeep
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError
from zeep.helpers import serialize_object
from zeep.proxy import AsyncServiceProxy
from zeep.wsdl.utils import etree_to_string

from connectors.api_client import ConnectorClient
from connectors.base import AuthExpired, Connector, PartnerError, PartnerRejected, RateLimited
from connectors.ebay_format import (
    AUTH_ERRORS,
    BINDING,
    DEFAULT_VERSION,
    USAGE_LIMIT_ERROR,
    error_codes,
    errors_text,
)

TIMEOUT = aiohttp.ClientTimeout(total=30)
# eBay blocks an app that went over the short-duration limit "for a while" without saying how long;
# we wait one whole 15-second window (configurable: options["rate_limit_wait_s"]).
DEFAULT_BLOCK_WAIT = 15.0


class _AiohttpTransport(zeep.Transport):
    """zeep's transport with the documents already fetched and the POSTs made through aiohttp."""

    def __init__(self, documents: Mapping[str, bytes], api: EbayApi):
        super().__init__()
        self._documents, self._api = dict(documents), api

    def load(self, url: str) -> bytes:
        if url not in self._documents:
            raise TransportError(f"the WSDL refers to {url}, which was not fetched")
        return self._documents[url]

    async def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> requests.Response:
        status, body, content_type = await self._api.post(address, etree_to_string(envelope), headers)
        response = requests.Response()
        response.status_code, response._content = status, body
        response.headers["Content-Type"] = content_type
        return response


class EbayApi(ConnectorClient):
    """Calls on behalf of one connector, with its session (or one of its own), its limiter and its
    spec's credentials as they are at each call."""

    def __init__(self, connector: Connector):
        super().__init__(connector)
        self._own_session: aiohttp.ClientSession | None = None
        self._client: zeep.AsyncClient | None = None
        self._loading = asyncio.Lock()

    async def close(self) -> None:
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    @property
    def _options(self) -> Mapping[str, Any]:
        return self.spec.options

    def wsdl_url(self) -> str:
        return str(self._options.get("wsdl_url") or self.spec.base_url.rstrip("/") + "/wsdl")

    async def client(self) -> zeep.AsyncClient:
        async with self._loading:
            if self._client is None:
                url = self.wsdl_url()
                status, body, _ = await self._send("GET", url, None, {})
                if status != 200:
                    raise PartnerError(f"eBay WSDL at {url} answered {status}")
                try:
                    # eBay's full WSDL takes seconds to parse: not on the actor's event loop
                    transport = _AiohttpTransport({url: body}, self)
                    self._client = await asyncio.to_thread(zeep.AsyncClient, url, transport=transport)
                except (ZeepError, ValueError, SyntaxError) as exc:
                    raise PartnerRejected(f"eBay WSDL at {url} is not one zeep can read: {exc}") from exc
            return self._client

    def address(self, call: str) -> str:
        creds, options = self.spec.credentials, self._options
        query = {"callname": call, "siteid": str(options.get("site_id", 0)), "appid": creds.get("app_id", ""),
                 "version": self.version(), "routing": "new"}
        return f"{self.spec.base_url.rstrip('/')}/wsapi?{urlencode(query)}"

    def version(self) -> str:
        return str(self._options.get("version") or DEFAULT_VERSION)

    async def call(self, call: str, operation: str, **body: Any) -> dict[str, Any]:
        """The call's response as plain data; raises for what no retry of the same call can mend
        and for limits, returns Ack Failure/PartialFailure for the caller to read per item."""
        client = await self.client()
        service = AsyncServiceProxy(client, client.wsdl.bindings[BINDING], address=self.address(call))
        headers = {"RequesterCredentials": {"eBayAuthToken": self.spec.credentials.get("auth_token", "")}}
        try:
            async with self.limiter.sending(operation):
                reply = await getattr(service, call)(Version=self.version(), _soapheaders=headers, **body)
        except Fault as exc:
            kind = PartnerRejected if "client" in str(exc.code or "").lower() else PartnerError
            raise kind(f"eBay {call} SOAP fault {exc.code}: {exc.message}") from exc
        except (TransportError, ZeepError) as exc:
            raise PartnerError(f"eBay {call}: {exc}") from exc
        return self._checked(call, operation, serialize_object(reply, dict) or {})

    def _checked(self, call: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        codes = error_codes(payload)
        if USAGE_LIMIT_ERROR in codes:
            wait = float(self._options.get("rate_limit_wait_s", DEFAULT_BLOCK_WAIT))
            self.limiter.honour(operation, wait)
            raise RateLimited(f"eBay {call}: {errors_text(payload)}", wait)
        if codes & AUTH_ERRORS:
            raise AuthExpired(f"eBay {call}: {errors_text(payload)}")
        return payload

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        return await self._send("POST", url, body, headers)

    async def _send(self, method: str, url: str, body: bytes | None,
                    headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        try:
            async with self._http().request(method, url, data=body, headers=dict(headers),
                                            timeout=TIMEOUT) as answer:
                return answer.status, await answer.read(), answer.headers.get("Content-Type", "text/xml")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PartnerError(f"eBay {method} {url.split('?')[0]}: {exc!r}") from exc

    def _http(self) -> aiohttp.ClientSession:
        """The connector's session, or (made without one: the ingress's verifier) our own."""
        given: aiohttp.ClientSession | None = self._connector.session
        if given is not None:
            return given
        self._own_session = self._own_session or aiohttp.ClientSession()
        return self._own_session
