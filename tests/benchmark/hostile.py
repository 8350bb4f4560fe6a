"""Hostile traffic beside the order load, for the soak (tests/benchmark/soak.py): what a long session
on the open internet sends. Each round of each worker does one of each:

- malformed JSON to POST /api/v1/orders (400);
- an order for an unknown SKU (422), and GET /api/v1/variants/<unknown>/stock (404);
- a receipt of one unit under a new Idempotency-Key (every key distinct: the store keeps each);
- a failed dashboard login under a new made-up username (the login throttle remembers names);
- a dashboard stream opened, a few bytes read, and dropped without a goodbye;
- an order sent twice (200 the second time) and its external id reused for other lines (409);
- a request to a path no route takes, each one different, and one with an odd method (WebDAV's):
  the metrics' `route` and `method` labels must not grow.

``python -m tests.benchmark.hostile --base URL --sku SKU --duration S`` prints one JSON line of counts
by (what, status) when done. The bearer token and the admin password travel in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import time
from collections import Counter
from typing import Any

import aiohttp

from tests.benchmark.streams import PASSWORD_ENV, TOKEN_ENV, log_in

WORKERS = 4
ODD_METHODS = ("PROPFIND", "MKCOL", "LOCK", "SEARCH", "REPORT", "PURGE")  # ones the HTTP parser takes
PAUSE = 0.05  # seconds between a worker's requests: hostile, not a second order load


class Hostile:
    def __init__(self, base: str, session: aiohttp.ClientSession, cookie: str, sku: str):
        self.base, self.session, self.cookie, self.sku = base, session, cookie, sku
        self.counts: Counter[str] = Counter()

    async def _call(self, what: str, method: str, path: str, **kwargs: Any) -> None:
        try:
            async with self.session.request(method, path, **kwargs) as resp:
                await resp.read()
                self.counts[f"{what} {resp.status}"] += 1
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.counts[f"{what} {type(exc).__name__}"] += 1
        await asyncio.sleep(PAUSE)

    async def round(self, n: str) -> None:
        headers = {"Content-Type": "application/json"}
        await self._call("bad_json", "POST", "/api/v1/orders", data=b'{"channel": "direct", ', headers=headers)
        unknown = {"channel": "direct", "external_id": f"h-{n}", "lines": [{"sku": f"NOPE-{n}", "quantity": 1}]}
        await self._call("unknown_sku_order", "POST", "/api/v1/orders", json=unknown)
        await self._call("unknown_sku_stock", "GET", f"/api/v1/variants/NOPE-{n}/stock")
        receipt = {"sku": self.sku, "location": "WH-BENCH", "quantity": 1, "reference": f"h-{n}"}
        await self._call("idempotency_key", "POST", "/api/v1/stock/receipts", json=receipt,
                         headers={"Idempotency-Key": f"hostile-{n}"})
        await self._failed_login(n)
        await self._vanishing_stream()
        order = {"channel": "direct", "external_id": f"dup-{n}", "lines": [{"sku": self.sku, "quantity": 1}]}
        await self._call("order_first", "POST", "/api/v1/orders", json=order)
        await self._call("order_duplicate", "POST", "/api/v1/orders", json=order)
        order["lines"] = [{"sku": self.sku, "quantity": 2}]
        await self._call("order_id_reused", "POST", "/api/v1/orders", json=order)
        await self._call("unmatched_path", "GET", f"/nowhere/{n}")
        await self._call("odd_method", ODD_METHODS[hash(n) % len(ODD_METHODS)], f"/api/v1/orders/{n}")

    async def _failed_login(self, n: str) -> None:
        """A fresh client each time, as a credential-stuffing bot: its own cookie and CSRF token."""
        jar = aiohttp.CookieJar(unsafe=True)
        try:
            async with aiohttp.ClientSession(base_url=self.base, cookie_jar=jar,
                                             timeout=aiohttp.ClientTimeout(total=30)) as bot:
                async with bot.get("/login") as page:
                    found = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
                form = {"username": f"nobody-{n}", "password": "wrong-password",
                        "csrf_token": found.group(1) if found else ""}
                async with bot.post("/login", data=form, allow_redirects=False) as answer:
                    self.counts[f"failed_login {answer.status}"] += 1
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.counts[f"failed_login {type(exc).__name__}"] += 1
        await asyncio.sleep(PAUSE)

    async def _vanishing_stream(self) -> None:
        try:
            async with self.session.get("/stream?topics=stock", headers={"Cookie": self.cookie},
                                        timeout=aiohttp.ClientTimeout(total=5)) as resp:
                self.counts[f"stream_dropped {resp.status}"] += 1
                await resp.content.read(64)
                resp.close()  # the connection dropped, not returned to the pool: the client vanished
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.counts[f"stream_dropped {type(exc).__name__}"] += 1
        await asyncio.sleep(PAUSE)


async def run(base: str, sku: str, duration: float, token: str, password: str) -> dict[str, int]:
    cookie = await log_in(base, password)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=base, headers=headers, timeout=timeout) as session:
        hostile = Hostile(base, session, cookie, sku)
        until = time.monotonic() + duration
        tag = secrets.token_hex(3)

        async def worker(w: int) -> None:
            k = 0
            while time.monotonic() < until:
                k += 1
                await hostile.round(f"{tag}-{w}-{k}")

        await asyncio.gather(*(worker(w) for w in range(WORKERS)))
    return dict(sorted(hostile.counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.hostile", description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--sku", required=True, help="a SKU that exists (receipts, duplicate orders)")
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    counts = asyncio.run(run(args.base, args.sku, args.duration, os.environ[TOKEN_ENV], os.environ[PASSWORD_ENV]))
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
