"""A FixedPriceTransaction Platform Notification as eBay sends one, signed here by hand with the demo's
eBay keys (NotificationSignature = base64(MD5(Timestamp + DevID + AppID + CertID)))."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path


def ebay_notification(data_dir: Path, order_id: str, sku: str, at: float, cert: str | None = None) -> bytes:
    keys = json.loads((data_dir / "demo_partner_credentials.json").read_text())["ebay"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
    signed = stamp + keys["dev_id"] + keys["app_id"] + (cert or keys["cert_id"])
    signature = base64.b64encode(hashlib.md5(signed.encode()).digest()).decode()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>
<RequesterCredentials xmlns="urn:ebay:apis:eBLBaseComponents"><NotificationSignature>{signature}</NotificationSignature>
</RequesterCredentials></soapenv:Header><soapenv:Body>
<GetItemTransactionsResponse xmlns="urn:ebay:apis:eBLBaseComponents"><Timestamp>{stamp}</Timestamp><Ack>Success</Ack>
<NotificationEventName>FixedPriceTransaction</NotificationEventName><Item><ItemID>1</ItemID><SKU>{sku}</SKU></Item>
<TransactionArray><Transaction><QuantityPurchased>1</QuantityPurchased><TransactionID>77</TransactionID>
<ContainingOrder><OrderID>{order_id}</OrderID><OrderStatus>Active</OrderStatus></ContainingOrder></Transaction>
</TransactionArray></GetItemTransactionsResponse></soapenv:Body></soapenv:Envelope>""".encode()
