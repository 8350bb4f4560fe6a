"""A wholesale distributor trading X12 EDI (or CSV) files with us over SFTP.

spec.base_url: "sftp://host:port". Credentials: `username`, `password`, and the server's host key:
`host_key_fingerprint` ("SHA256:...", as `ssh-keygen -lf` prints it) or `known_hosts` (a known_hosts
file's path, or its text); either may also be an option. The key is checked before we authenticate,
so a server with another key never sees the password. With neither, the connector refuses to
connect (PartnerRejected naming the settings) unless the option `insecure_accept_any_host_key: true`
says to accept any key. The demo's simulator hands its own key's fingerprint over.
A refused password raises AuthExpired (our credentials need replacing; there is nothing to
refresh); a host key that does not match raises PartnerRejected.

Options (defaults match the simulator): `format` "x12" | "csv"; `folders` (merged over
DEFAULT_FOLDERS); `sender_id` (ours, ISA06/GS02, "THREADCOUNT"), `receiver_id` (the distributor's,
"DISTRIBUTOR"), `sender_qualifier`/`receiver_qualifier` ("ZZ"), `usage` ("P" or "T");
`min_846_interval_s` (2: the distributor takes one 846 every N seconds); `timeout_s` (30); and the
distributor's X12 profile (wholesale_profile: version, extra segments, file names, part numbers).

A PO line names a product by our SKU (VP), a GTIN (UP/EN) or the distributor's own part number
(BP); the intake tries them in that order, BP through the cross-reference: `part_numbers` from the
options, over the pairs learned from earlier 855s (a line we matched by VP or GTIN that also gave
a BP teaches us that BP; learned pairs last for the connector's life, configured ones always).

The files are the queue, so the cursor stays None: fetch_orders reads the oldest POs in
inbound/850; confirm answers each file with an 855 per new PO (line by line, as answer() was told
after the orders committed) and a 997, then moves it to the archive, after which it is no longer
fetched. A PO seen before (a file confirmed late) gets its 997 again but no second 855. A file
that cannot be read is moved to the error folder at once and, when its control numbers can be read,
answered with a 997 rejecting it (AK5*R); a file with some good POs yields those and its 997 (AK9*P)
rejects the rest. In CSV there is no 997: archiving is the answer.
The inventory report (reports/inventory.csv, `sku,quantity`) is what the distributor holds and the
only way to read it back: read_listings reads it.

confirm() needs the events as fetch_orders made them (their `raw` names the file and carries its
997), and must be given every event of a page, also those deduped as seen before: a file leaves the
queue only when confirmed. Limiter operations: `upload_846` (the published limit, taken just before
the rename that makes the file visible, which is what the distributor measures), and unlimited
`write_file`, `upload_997`, `list_850`, `read_850`, `move_850`, `read_report`, `stat`, `mkdir`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import asyncssh

from connectors import wholesale_sftp, x12
from connectors.base import (
    AuthExpired,
    Connector,
    Listing,
    OrderAnswer,
    OrderEvent,
    OrderPage,
    PartnerError,
    PartnerRejected,
    PartnerSpec,
    PushResult,
)
from connectors.limits import Limiter, RateSpec
from connectors.wholesale_files import (
    DEFAULT_FOLDERS,
    ack_of,
    csv_text,
    listing_error,
    orders_from_csv,
    orders_from_x12,
    po_of,
    report_quantities,
)
from connectors.wholesale_profile import X12Profile

log = logging.getLogger(__name__)
T = TypeVar("T")
CLOSE_WAIT_S = 5.0  # seconds for the server to answer our close

DEFAULT_846_INTERVAL = 2.0


class _PinnedHostKey(asyncssh.SSHClient):
    """Accepts only the host key with this SHA256 fingerprint (asyncssh then checks the server holds
    its private half)."""

    def __init__(self, fingerprint: str):
        self._fingerprint = fingerprint

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return bool(key.get_fingerprint("sha256") == self._fingerprint)


class WholesaleConnector(Connector):
    kind = "wholesale"
    # One 846 every two seconds unless the options say otherwise (see rates).
    limits: ClassVar[Mapping[str, RateSpec]] = {"upload_846": RateSpec(1 / DEFAULT_846_INTERVAL, 1)}
    max_push_batch = 5000   # one 846 carries the whole batch
    capabilities = ("push", "poll")
    push_operation = "upload_846"

    @classmethod
    def rates(cls, spec: PartnerSpec) -> Mapping[str, RateSpec]:
        interval = float(spec.options.get("min_846_interval_s", DEFAULT_846_INTERVAL))
        return {"upload_846": RateSpec(1 / interval, 1)}

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        options = spec.options
        self.format = str(options.get("format", "x12"))
        self.folders = {**DEFAULT_FOLDERS, **options.get("folders", {})}
        self.us = x12.Party(str(options.get("sender_id", "THREADCOUNT")),
                            str(options.get("sender_qualifier", "ZZ")))
        self.them = x12.Party(str(options.get("receiver_id", "DISTRIBUTOR")),
                              str(options.get("receiver_qualifier", "ZZ")))
        self.usage = str(options.get("usage", "P"))
        self.timeout = float(options.get("timeout_s", 30.0))
        self.controls = x12.ControlNumbers()
        self.profile = X12Profile.from_options(options)
        self.learned_parts: dict[str, str] = {}          # BP -> our SKU, from earlier 855s
        self._answers: dict[str, OrderAnswer] = {}       # event id -> its lines' outcomes, until confirm
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._connecting = asyncio.Lock()

    # --- the connection --------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and check the distributor's folders exist (there are no partner ids to learn:
        POs name our SKUs as the buyer's part number)."""
        needed = ["outbound_846", "inbound_850", "outbound_997"]
        for name in needed + (["outbound_855"] if self._sends_855 else []):
            if not await self._do("stat", functools.partial(wholesale_sftp.isdir, self.folders[name])):
                raise PartnerRejected(f"folder {self.folders[name]!r} is missing on the distributor's server")
        for name in ("archive", "error"):
            await self._do("mkdir", functools.partial(wholesale_sftp.makedirs, self.folders[name]))

    async def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            # a server that never answers the close must not hold up our stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT_S):
                    await conn.wait_closed()

    async def _client(self) -> asyncssh.SFTPClient:
        """The one open session; SFTP servers drop idle connections, so a closed one is replaced
        here rather than failing the next request."""
        async with self._connecting:
            if self._conn is not None and self._conn.is_closed():
                await self._drop()
            if self._sftp is None:
                conn = await self._connect()
                try:
                    self._sftp = await conn.start_sftp_client()
                except BaseException:
                    conn.abort()
                    raise
                self._conn = conn
            return self._sftp

    async def _connect(self) -> asyncssh.SSHClientConnection:
        url, creds = urlsplit(self.spec.base_url), self.spec.credentials
        if not creds.get("username") or not creds.get("password"):
            raise PartnerRejected("wholesale credentials need a username and a password")
        return await asyncssh.connect(
            url.hostname or "127.0.0.1", url.port or 22, username=creds["username"],
            password=creds["password"], **self._host_key_check(),
            client_keys=None, agent_path=None, config=None, preferred_auth="password,keyboard-interactive",
            connect_timeout=self.timeout)

    def _host_key_check(self) -> dict[str, Any]:
        """How asyncssh checks the server's host key, before any authentication."""
        settings = {**self.spec.options, **self.spec.credentials}
        fingerprint, known = settings.get("host_key_fingerprint"), settings.get("known_hosts")
        if fingerprint:
            # no trusted keys (and not ~/.ssh/known_hosts): every key goes to validate_host_public_key
            return {"known_hosts": lambda _host, _addr, _port: ([], [], []),
                    "client_factory": lambda: _PinnedHostKey(str(fingerprint))}
        if known:
            text = str(known)
            return {"known_hosts": text if "\n" not in text and os.path.isfile(text)
                    else asyncssh.import_known_hosts(text)}
        if str(self.spec.options.get("insecure_accept_any_host_key", "")).lower() in ("true", "1", "yes"):
            return {"known_hosts": None}
        raise PartnerRejected(f"{self.spec.id}: no host key to check the SFTP server against; set "
                              "host_key_fingerprint or known_hosts (or, knowingly, the option "
                              "insecure_accept_any_host_key: true)")

    async def _do(self, operation: str, action: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """One SFTP request, under the limiter, with errors translated once: a lost connection is
        dropped (the next request reconnects) and raised as PartnerError. Bounded by asyncio.timeout,
        not wait_for: on Python 3.11 wait_for returns the result when the request finishes just as
        the caller is cancelled, swallowing the cancel, and a poll loop that should stop runs on.
        The limiter's token is taken once the session is open, just before the request: taken before a
        slow (re)connect, the requests queued behind it would all go out at once when it came."""
        try:
            async with asyncio.timeout(self.timeout):
                sftp = await self._client()
            async with self.limiter.sending(operation), asyncio.timeout(self.timeout):
                return await action(sftp)
        except asyncssh.PermissionDenied as exc:
            raise AuthExpired(f"the distributor refused our login: {exc.reason}") from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise PartnerRejected(f"the server's host key is not the one configured (known_hosts or "
                                  f"host_key_fingerprint): {exc.reason}") from exc
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPPermissionDenied) as exc:
            raise PartnerRejected(f"{operation}: {exc.reason}") from exc
        except (asyncssh.SFTPFailure, asyncssh.SFTPOpUnsupported) as exc:
            raise PartnerError(f"{operation}: {exc.reason}") from exc
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            await self._drop()
            raise PartnerError(f"{operation}: the distributor's SFTP server failed: {exc!r}") from exc

    async def _drop(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.abort()

    async def _upload(self, folder: str, name: str, text: str, operation: str) -> None:
        """Write a temporary name, then rename: the distributor never reads half a file. The
        rename is the moment the file arrives, so that is the request the limiter paces."""
        part, final = f"{folder}/.{name}.part", f"{folder}/{name}"
        await self._do("write_file", functools.partial(wholesale_sftp.write, part, text))
        try:
            await self._do(operation, lambda sftp: sftp.rename(part, final))
        except (PartnerError, PartnerRejected):
            await self._quietly("remove", functools.partial(wholesale_sftp.remove, part))
            raise

    async def _quietly(self, operation: str, action: Callable[[asyncssh.SFTPClient], Awaitable[Any]]) -> None:
        try:
            await self._do(operation, action)
        except (PartnerError, PartnerRejected) as exc:
            log.warning("wholesale %s: %s failed too: %s", self.spec.id, operation, exc)

    # --- inventory -------------------------------------------------------------------------------

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        """All of them in one 846 (or one CSV). A SKU that cannot travel in the file fails alone."""
        results = [PushResult(item.sku, not (error := listing_error(item)), error) for item in listings]
        good = [(item.sku, item.quantity) for item, done in zip(listings, results, strict=True) if done.ok]
        if good:
            control = self.controls.next()
            if self.format == "csv":
                name, text = self._name("csv", control), csv_text([("sku", "quantity"), *good])
            else:
                now = datetime.now(UTC)
                gtins = {item.sku: item.gtin for item in listings if item.gtin}
                advice = x12.inventory_advice(f"INV-{now:%Y%m%d%H%M%S}", now.date(), good, gtins)
                name, text = self._name("846", control), self._interchange(control, "846", [advice])
            await self._upload(self.folders["outbound_846"], name, text, "upload_846")
        return results

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        """From the distributor's inventory report; SKUs it does not list are left out."""
        report = self.folders["inventory_report"]
        data = await self._do("read_report", functools.partial(wholesale_sftp.read, report))
        try:
            shown = report_quantities(data.decode("utf-8", errors="replace"))
        except (KeyError, ValueError) as exc:
            raise PartnerError(f"the inventory report is not sku,quantity CSV: {exc}") from exc
        return {sku: shown[sku] for sku in skus if sku in shown}

    @property
    def _sends_855(self) -> bool:
        return self.format == "x12" and self.profile.send_855

    def _name(self, document: str, control: int) -> str:
        return self.profile.file_name(document, control, self.spec.id)

    def _interchange(self, control: int, set_id: str, bodies: Sequence[Sequence[x12.Segment]]) -> str:
        envelope = x12.Envelope(self.us, self.them, control, datetime.now(UTC), self.usage,
                                self.profile.version)
        sets = [(set_id, self.profile.body(set_id, body)) for body in bodies]
        return x12.write_interchange(envelope, x12.FUNCTIONAL_IDS[set_id], sets)

    # --- orders ----------------------------------------------------------------------------------

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        """The oldest `page_size` PO files; fetching again before confirm returns the same events."""
        inbound = self.folders["inbound_850"]
        names = await self._do("list_850", functools.partial(wholesale_sftp.file_names, inbound))
        events: list[OrderEvent] = []
        for name in names[:page_size]:
            data = await self._do("read_850", functools.partial(wholesale_sftp.read, f"{inbound}/{name}"))
            events += await self._events_of(name, data.decode("utf-8", errors="replace"))
        return OrderPage(events, cursor, more=len(names) > page_size)

    async def answer(self, answers: Sequence[OrderAnswer]) -> None:
        """Kept until confirm writes them as 855s; a BP beside a line we matched is learned."""
        for found in answers:
            self._answers[found.event_id] = found
        for event_id in list(self._answers)[:-10_000]:   # never confirmed: forget the oldest
            del self._answers[event_id]

    async def confirm(self, events: Sequence[OrderEvent]) -> None:
        """Answer each file the events came from with an 855 for each new PO and its 997, then
        archive it. A file already gone was confirmed before (its answers went with it)."""
        files: dict[str, list[OrderEvent]] = {}
        for event in events:
            if "file" in event.raw:
                files.setdefault(event.raw["file"], []).append(event)
        for name, found in files.items():
            await self._settle(name, found[0].raw.get("acks", []), self.folders["archive"], found)

    async def _settle(self, name: str, acks: list[dict[str, Any]], destination: str,
                      events: Sequence[OrderEvent] = ()) -> None:
        source = f"{self.folders['inbound_850']}/{name}"
        if not await self._do("stat", lambda sftp: sftp.exists(source)):
            return
        await self._send_855s(events)
        if acks:
            control = self.controls.next()
            text = self._interchange(control, "997", [x12.functional_ack(ack_of(ack)) for ack in acks])
            await self._upload(self.folders["outbound_997"], self._name("997", control), text, "upload_997")
        await self._do("move_850", functools.partial(wholesale_sftp.move, source, f"{destination}/{name}"))

    async def _send_855s(self, events: Sequence[OrderEvent]) -> None:
        answered = [(event, found) for event in events if (found := self._answers.get(event.event_id))]
        if not answered or not self._sends_855:
            return
        today, bodies = datetime.now(UTC).date(), []
        for event, found in answered:
            po = po_of(event.raw["po"])
            bodies.append(x12.po_acknowledgement(po, found.lines, today))
            for line, result in zip(po.lines, found.lines, strict=False):
                if line.buyer_part and result.sku:
                    self.learned_parts[line.buyer_part] = result.sku
        control = self.controls.next()
        text = self._interchange(control, "855", bodies)
        await self._upload(self.folders["outbound_855"], self._name("855", control), text, "upload_855")
        for event, _ in answered:
            self._answers.pop(event.event_id, None)

    async def _events_of(self, name: str, text: str) -> list[OrderEvent]:
        try:
            events, acks = orders_from_csv(self.them.id, name, text) if self.format == "csv" else \
                orders_from_x12(name, text, {**self.learned_parts, **self.profile.part_numbers})
        except (x12.X12Error, ValueError, KeyError, UnicodeDecodeError) as exc:
            log.error("wholesale %s: %s is not a file we can read, moved to %s: %s",
                      self.spec.id, name, self.folders["error"], exc)
            events, acks = [], []
        if not events:
            await self._settle(name, acks, self.folders["error"])
        return events
