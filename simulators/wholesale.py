"""A wholesale distributor trading X12 (or CSV) files over SFTP: an asyncssh server with password
auth, chrooted to a folder the simulator owns, beside the shared HTTP control surface.

What it does with the files, every `poll_interval_s` (0.2 s):
- outbound/846: each new 846 (or CSV `sku,quantity`) sets `listings` (and `advised_gtins` from a
  LIN's UP/EN, whose check digit it verifies); a bad envelope or SE01 count
  counts in stats["edi_errors"] and the file is moved to outbound/846/rejected. Files arriving closer
  than `min_846_interval_s` (2 s) apart count in stats["rate_limited"] (distributors ask for at most
  one 846 every N seconds; it still takes the file). Arrival is the moment a file gets its final
  name, so a client that writes a temporary name and renames it is measured at the rename.
- outbound/997: our acknowledgements; accepted POs go into `acknowledged` (stats["acks_received"]).
  In CSV format there is no 997: a PO file moved into the archive folder counts as acknowledged.
- outbound/855: PO acknowledgements, line by line, read strictly (wholesale_acks) against the POs it
  sent; each goes into `po_acks` by PO number (stats["po_acks_received"]).
- Every X12 file must be in the version its guide names (`x12_version`, "4010" or "5010") and hold
  the segments the guide requires (`required_segments`, e.g. {"846": ["REF"]}); else it is refused.
- reports/inventory.csv (`sku,quantity`): the distributor's inventory report, rewritten whenever the
  listings change. It is the only way to read back what the distributor holds: there is no API.
`record_order` writes an 850 (one PO, one PO1 line; `record_purchase_order` any number of lines,
named as its item master says: wholesale_items) or a CSV `po_number,sku,quantity` file into
inbound/850. Faults: `down` refuses new SSH connections and drops open ones at their next SFTP
request; `error_rate` fails that share of SFTP requests; `latency_ms` delays each (the SFTP server
and its faults are in wholesale_sftp).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh
from aiohttp import web

from simulators import edi
from simulators.base import SimConfig, SimOrder, Simulator
from simulators.wholesale_acks import PoAck, read_po_ack
from simulators.wholesale_items import ItemMaster
from simulators.wholesale_sftp import listen

log = logging.getLogger(__name__)
# Where each kind of file lives under the SFTP root, unless the partner's options move it.
FOLDERS = {"outbound_846": "outbound/846", "outbound_997": "outbound/997", "outbound_855": "outbound/855",
           "inbound_850": "inbound/850",
           "archive": "inbound/850/archive", "error": "inbound/850/error",
           "inventory_report": "reports/inventory.csv"}


class WholesaleSimulator(Simulator):
    kind = "wholesale"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.format = str(options.get("format", "x12"))
        self.folders = {**FOLDERS, **options.get("folders", {})}
        self.distributor = edi.Party(str(options.get("receiver_id", "DISTRIBUTOR")))
        self.buyer = edi.Party(str(options.get("sender_id", "THREADCOUNT")))
        self.min_846_interval = float(options.get("min_846_interval_s", 2.0))
        self.poll_interval = float(options.get("poll_interval_s", 0.2))
        self.version = str(options.get("x12_version", "4010"))
        if self.version not in edi.VERSIONS:
            raise ValueError(f"x12_version: {self.version!r} is not one of {', '.join(edi.VERSIONS)}")
        self.required_segments = {str(k): [str(tag) for tag in v]
                                  for k, v in dict(options.get("required_segments", {})).items()}
        self.items = ItemMaster(options)
        self.po_acks: dict[str, PoAck] = {}
        self.advised_gtins: dict[str, str] = {}          # SKU -> GTIN our 846s gave
        self._po_lines: dict[str, dict[str, int]] = {}   # PO number -> {PO1 number: quantity}
        self._owns_root = not options.get("root")
        self.root = Path(options.get("root") or tempfile.mkdtemp(prefix="wholesale-sim-")).resolve()
        self.acknowledged: set[str] = set()
        self.edi_errors: list[str] = []
        self.sftp_port = 0
        self._host = "127.0.0.1"
        self.host_key: asyncssh.SSHKey | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._arrivals: dict[str, float] = {}
        self._last_846: float | None = None
        self._sent: dict[tuple[str, str], str] = {}      # (GS06, ST02) of our 850 -> PO number
        self._csv_pending: dict[str, str] = {}          # CSV PO file name -> PO number
        self._reported: dict[str, int] | None = None

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        return {"username": f"{partner_id}-edi", "password": secrets.token_urlsafe(18)}

    @property
    def sftp_url(self) -> str:
        return f"sftp://{self._host}:{self.sftp_port}"

    @property
    def host_key_fingerprint(self) -> str:
        if self.host_key is None:
            raise RuntimeError("start() generates the host key")
        return str(self.host_key.get_fingerprint("sha256"))

    def folder(self, name: str) -> Path:
        return self.root / self.folders[name]

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await super().start(host, port)
        self._host = host
        for name in ("outbound_846", "inbound_850", "outbound_997", "outbound_855", "archive", "error"):
            self.folder(name).mkdir(parents=True, exist_ok=True)
        (self.folder("outbound_846") / "rejected").mkdir(exist_ok=True)
        self.folder("inventory_report").parent.mkdir(parents=True, exist_ok=True)
        self._write_report()
        self.host_key = self._load_host_key()
        self._acceptor = await listen(self, host, int(self.config.options.get("sftp_port", 0)), self.host_key)
        self.sftp_port = self._acceptor.get_port()
        self.spawn(self._watch())

    def _load_host_key(self) -> asyncssh.SSHKey:
        """A distributor's SFTP server keeps its host key: with a state folder the key is kept there
        (mode 600) and used again after a restart, so clients that pinned it still connect."""
        if self.config.state_dir is None:
            return asyncssh.generate_private_key("ssh-ed25519")
        path = self.config.state_dir / f"{self.config.partner_id}.host_key"
        if path.exists():
            return asyncssh.read_private_key(path)
        key = asyncssh.generate_private_key("ssh-ed25519")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(key.export_private_key())
        return key

    async def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
        for conn in list(self.connections):
            conn.abort()
        if self._acceptor is not None:
            await self._acceptor.wait_closed()
        await super().stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- the partner's side of orders ------------------------------------------------------------

    # --- what survives a restart (the files are in the SFTP root already) -------------------------

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "acknowledged": sorted(self.acknowledged),
                "sent": [[group, st, po] for (group, st), po in self._sent.items()],
                "csv_pending": self._csv_pending}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        self.acknowledged.update(saved.get("acknowledged", []))
        self._sent.update({(group, st): po for group, st, po in saved.get("sent", [])})
        self._csv_pending.update(saved.get("csv_pending", {}))

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        return await self.record_purchase_order([(sku, quantity)])

    async def record_purchase_order(self, lines: Sequence[tuple[str, int]]) -> SimOrder:
        """One PO with a PO1 per (our SKU, quantity); SimOrder's sku/quantity are its first line's."""
        number = self.next_id()
        now = self.clock.time()
        (sku, quantity), *_ = lines
        order = SimOrder(f"PO-{10000 + number}", sku, quantity, "created", now, now,
                         extra={"control": number, "lines": list(lines)})
        self.orders[order.order_id] = order
        for line_sku, line_quantity in lines:
            self.sell(line_sku, line_quantity)
        self._write_order(order, "00", number)
        self._write_report()
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        """A distributor cancels with an 850 whose BEG01 is 01 (cancellation); shipping is ours."""
        if status != "cancelled" or self.format != "x12":
            raise NotImplementedError
        order.status, order.updated_at = status, self.clock.time()
        for sku, quantity in order.extra.get("lines", [(order.sku, order.quantity)]):
            self.listings[sku] = self.listings.get(sku, 0) + quantity
        self._write_order(order, "01", self.next_id())
        self._write_report()

    def _write_order(self, order: SimOrder, purpose: str, control: int) -> None:
        if self.format == "csv":
            name = f"PO_{order.order_id}.csv"
            self._csv_pending[name] = order.order_id
            text = f"po_number,sku,quantity\r\n{order.order_id},{order.sku},{order.quantity}\r\n"
        else:
            name = f"850_{order.order_id}_{control}.edi"
            price = str(self.config.options.get("unit_price", "3.50"))
            when = datetime.fromtimestamp(self.clock.time())   # the distributor's local time
            lines = order.extra.get("lines", [(order.sku, order.quantity)])
            po_lines = [(quantity, price, self.items.line_ids(sku)) for sku, quantity in lines]
            text = edi.purchase_order_file(self.distributor, self.buyer, control, when,
                                           (purpose, order.order_id), po_lines, self.version)
            self._sent[(str(control), "0001")] = order.order_id
            if purpose == "00":
                ordered = {str(n): quantity for n, (_, quantity) in enumerate(lines, start=1)}
                self._po_lines[order.order_id] = ordered
        _write_atomically(self.folder("inbound_850") / name, text)

    # --- watching the folders --------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            try:
                self._take_846s()
                self._take_997s()
                self._take_855s()
                self._note_archived_csv()
                self._write_report()
            except Exception:  # a bug here must not stop the distributor for the rest of the test
                log.exception("wholesale simulator: scanning the folders failed")
            await self.clock.sleep(self.poll_interval)

    def note_arrival(self, local_path: bytes) -> None:
        path = Path(os.fsdecode(local_path))
        if path.parent == self.folder("outbound_846"):
            self._arrivals[path.name] = self.clock.time()

    def _take_846s(self) -> None:
        folder = self.folder("outbound_846")
        arrived = {path: self._arrivals.pop(path.name, 0.0) or path.stat().st_mtime
                   for path in _final_files(folder)}
        for path, at in sorted(arrived.items(), key=lambda item: (item[1], item[0].name)):
            self.stats["files_received"] += 1
            if self._last_846 is not None and at - self._last_846 < self.min_846_interval:
                self.stats["rate_limited"] += 1
                self.stats["rate_limited:upload_846"] += 1
            self._last_846 = at
            try:
                self.listings.update(self._read_inventory(path.read_text()))
            except (ValueError, UnicodeDecodeError) as exc:
                self._refuse(path, folder / "rejected", exc)
                continue
            path.unlink()
        self._write_report()

    def _read_inventory(self, text: str) -> list[tuple[str, int]]:
        if self.format == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            if not rows or set(rows[0]) != {"sku", "quantity"}:
                raise ValueError("an inventory CSV needs the header sku,quantity")
            return [(row["sku"], int(row["quantity"])) for row in rows]
        sets = self._sets(text, "IB")
        for tx in sets:
            self.advised_gtins.update(edi.advised_gtins(tx))
        return [item for tx in sets for item in edi.inventory_advice(tx)]

    def _sets(self, text: str, functional_id: str) -> list[edi.TransactionSet]:
        """The transaction sets of a file our buyer sent us, all in groups of `functional_id`."""
        interchange = edi.read(text)
        if interchange.receiver.id != self.distributor.id or interchange.sender.id != self.buyer.id:
            raise edi.EdiError(f"ISA {interchange.sender.id}->{interchange.receiver.id} is not for us")
        if any(code != functional_id for code, _, _ in interchange.groups):
            raise edi.EdiError(f"expected {functional_id} groups only")
        if interchange.version != self.version:
            raise edi.EdiError(f"our guide asks for X12 {self.version} (ISA12, ISA11 and GS08 agreeing)")
        sets = [tx for _, _, sets in interchange.groups for tx in sets]
        for tx in sets:
            missing = set(self.required_segments.get(tx.code, ())) - {segment[0] for segment in tx.body}
            if missing:
                raise edi.EdiError(f"{tx.code} {tx.control}: our guide requires {', '.join(sorted(missing))}")
        return sets

    def _take_855s(self) -> None:
        folder = self.folder("outbound_855")
        for path in _final_files(folder):
            try:
                acks = [read_po_ack(tx, self._po_lines) for tx in self._sets(path.read_text(), "PR")]
            except (ValueError, UnicodeDecodeError) as exc:
                self._refuse(path, folder / "rejected", exc)
                continue
            for ack in acks:
                self.po_acks[ack.po_number] = ack
                self.stats["po_acks_received"] += 1
            path.unlink()

    def _take_997s(self) -> None:
        folder = self.folder("outbound_997")
        for path in _final_files(folder):
            try:
                acks = [edi.acknowledged_sets(tx) for tx in self._sets(path.read_text(), "FA")]
            except (ValueError, UnicodeDecodeError) as exc:
                self._refuse(path, folder / "rejected", exc)
                continue
            for group_control, verdicts in acks:
                for set_control, accepted in verdicts:
                    po = self._sent.get((group_control, set_control), f"?{group_control}")
                    if accepted:
                        self.acknowledged.add(po)
                        self.stats["acks_received"] += 1
                    else:
                        self.stats["acks_rejected"] += 1
            path.unlink()

    def _note_archived_csv(self) -> None:
        for name, po in list(self._csv_pending.items()):
            if (self.folder("archive") / name).exists():
                del self._csv_pending[name]
                self.acknowledged.add(po)
                self.stats["acks_received"] += 1

    def _refuse(self, path: Path, aside: Path, exc: Exception) -> None:
        self.stats["edi_errors"] += 1
        self.edi_errors.append(f"{path.name}: {exc}")
        log.info("wholesale simulator refused %s: %s", path.name, exc)
        aside.mkdir(exist_ok=True)
        path.replace(aside / path.name)

    def _write_report(self) -> None:
        if self.listings == self._reported:
            return
        lines = ["sku,quantity", *(f"{sku},{qty}" for sku, qty in sorted(self.listings.items()))]
        _write_atomically(self.folder("inventory_report"), "\r\n".join(lines) + "\r\n")
        self._reported = dict(self.listings)

    # --- HTTP: only the control surface; a distributor has no API --------------------------------

    def routes(self) -> list[web.RouteDef]:
        return []

    def error_response(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    def throttled_response(self, retry_after: float) -> web.Response:
        return web.json_response({"error": "too many files"}, status=429,
                                 headers={"Retry-After": str(max(1, round(retry_after)))})


def _final_files(folder: Path) -> list[Path]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(path for path in folder.iterdir() if path.is_file() and not _being_written(path.name))
    return []


def _being_written(name: str) -> bool:
    """A name still being written, by our buyer or by us: hidden, or a .part/.tmp upload."""
    return name.startswith(".") or name.endswith((".part", ".tmp"))


def _write_atomically(path: Path, text: str) -> None:
    """Readers over SFTP never see half a file: write a temporary name, then rename."""
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    os.replace(part, path)
