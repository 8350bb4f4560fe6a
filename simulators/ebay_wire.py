"""eBay's Trading API on the wire, as the eBay simulator reads and writes it: SOAP 1.1 envelopes in
the namespace `urn:ebay:apis:eBLBaseComponents`, read strictly (an element the call does not define
is refused), answers with `Ack`/`Errors` in eBay's shape, SOAP faults for envelopes eBay cannot
read, eBay's time format, and the Platform Notification signature.

Written from eBay's published Trading API reference (AbstractRequestType, AbstractResponseType,
ErrorType, the three calls' request types) and the notification guide; nothing here comes from
the project's connector. Error codes used: 37 (input data invalid), 931 (auth token invalid), 518
(call usage limit reached), 21916620 (a quantity-0 warning), 21916585 (no active listing for a
SKU; the code is our pick where eBay's reference lists several).
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException

NS = "urn:ebay:apis:eBLBaseComponents"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MOST_INVENTORY_STATUSES = 4
BUILD = "E1423_CORE_API_19146442_R1"

# Fields of eBay's AbstractRequestType every call accepts, then each call's own (trimmed).
_ABSTRACT = ("DetailLevel", "ErrorLanguage", "MessageID", "Version", "EndUserIP", "ErrorHandling",
             "InvocationID", "OutputSelector", "WarningLevel")
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "ReviseInventoryStatus": (*_ABSTRACT, "InventoryStatus"),
    "GetOrders": (*_ABSTRACT, "OrderIDArray", "CreateTimeFrom", "CreateTimeTo", "OrderRole", "OrderStatus",
                  "Pagination", "ModTimeFrom", "ModTimeTo", "NumberOfDays"),
    "GetItem": (*_ABSTRACT, "ItemID", "SKU"),
}
_NESTED: dict[str, tuple[str, ...]] = {
    "InventoryStatus": ("SKU", "ItemID", "StartPrice", "Quantity"),
    "Pagination": ("EntriesPerPage", "PageNumber"),
    "OrderIDArray": ("OrderID",),
    "RequesterCredentials": ("eBayAuthToken", "Credentials"),
    "Credentials": ("AppId", "DevId", "AuthCert"),
}


class SoapFault(Exception):
    """An envelope eBay cannot read at all: answered as a SOAP 1.1 fault with HTTP 500."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class EbayError:
    code: str
    short: str
    long: str
    severity: str = "Error"
    params: tuple[str, ...] = ()
    classification: str = "RequestError"


def invalid_input(tag: str) -> EbayError:
    return EbayError("37", "Input data is invalid.",
                     f"Input data for tag <{tag}> is invalid or missing. Please check API documentation.",
                     params=(tag,))


AUTH_INVALID = EbayError("931", "Auth token is invalid.",
                         "Validation of the authentication token in API request failed.")
USAGE_LIMIT = EbayError("518", "Call usage limit has been reached.",
                        "Your application has exceeded usage limit on this call, please make call to "
                        "Developer Analytics API to check your call usage.")


def no_listing(sku: str) -> EbayError:
    return EbayError("21916585", "Invalid SKU.", f"No active listing of this seller has the SKU {sku}.",
                     params=(sku,))


def zero_quantity_warning(sku: str) -> EbayError:
    return EbayError("21916620", "Variations with quantity '0' will be removed.",
                     "Variations with quantity '0' will be removed.", "Warning", (sku,))


class RequestRefused(Exception):
    """A request eBay reads but refuses as a whole: answered with Ack Failure and the error."""

    def __init__(self, error: EbayError):
        super().__init__(error.long)
        self.error = error


@dataclass
class SoapRequest:
    call: str
    token: str | None
    body: ET.Element
    fields: dict[str, list[ET.Element]] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        found = self.fields.get(name)
        return None if not found else (found[0].text or "").strip()


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def read_envelope(raw: bytes) -> SoapRequest:
    """The call, the auth token and the request element; SoapFault when it is no SOAP 1.1 envelope
    with one eBay request in the body, or RequestRefused (37) naming an element the call does not define."""
    try:
        root = defused.fromstring(raw)  # no DTDs, no entities: a request body is anyone's XML
    except (ET.ParseError, DefusedXmlException) as exc:
        raise SoapFault("soapenv:Client", f"The request is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("soapenv:VersionMismatch", "Only SOAP 1.1 envelopes are accepted.")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    parts = list(body) if body is not None else []
    if len(parts) != 1 or not parts[0].tag.startswith(f"{{{NS}}}") or not parts[0].tag.endswith("Request"):
        raise SoapFault("soapenv:Client", f"The body must hold one request element in {NS}.")
    request = parts[0]
    call = request.tag[len(NS) + 2:-len("Request")]
    if call not in REQUEST_FIELDS:
        raise SoapFault("soapenv:Client", f"Unsupported call: {call}.")
    fields: dict[str, list[ET.Element]] = {}
    for child in request:
        name = _known(child, REQUEST_FIELDS[call])
        fields.setdefault(name, []).append(child)
    return SoapRequest(call, _token(root), request, fields)


def _known(element: ET.Element, allowed: tuple[str, ...]) -> str:
    """The element's local name, after checking it and its children are defined for this place."""
    name = element.tag[len(NS) + 2:] if element.tag.startswith(f"{{{NS}}}") else element.tag
    if name not in allowed:
        raise RequestRefused(invalid_input(name))
    inner = _NESTED.get(name, ())
    for child in element:
        _known(child, inner)
    return name


def _token(root: ET.Element) -> str | None:
    creds = root.find(f"{{{SOAP_ENV}}}Header/{q('RequesterCredentials')}")
    if creds is None:
        return None
    for child in creds:
        _known(child, _NESTED["RequesterCredentials"])
    token = creds.find(q("eBayAuthToken"))
    return None if token is None else (token.text or "").strip()


def answer(call: str, errors: list[EbayError], ack: str | None = None,
           parts: list[ET.Element] | None = None, at: float | None = None, version: str = "1423") -> bytes:
    """A SOAP envelope holding `<call>Response`: Timestamp, Ack, Errors, Version, Build, then `parts`.
    Without `ack`: Failure when any error is an Error, Warning when there are only warnings."""
    if ack is None:
        severe = any(e.severity == "Error" for e in errors)
        ack = "Failure" if severe else "Warning" if errors else "Success"
    response = ET.Element(q(f"{call}Response"))
    sub(response, "Timestamp", ebay_time(at))
    sub(response, "Ack", ack)
    for error in errors:
        response.append(error_element(error))
    sub(response, "Version", version)
    sub(response, "Build", BUILD)
    response.extend(parts or [])
    return envelope(response)


def envelope(content: ET.Element, header: ET.Element | None = None) -> bytes:
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    if header is not None:
        ET.SubElement(root, f"{{{SOAP_ENV}}}Header").append(header)
    ET.SubElement(root, f"{{{SOAP_ENV}}}Body").append(content)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def error_element(error: EbayError) -> ET.Element:
    element = ET.Element(q("Errors"))
    sub(element, "ShortMessage", error.short)
    sub(element, "LongMessage", error.long)
    sub(element, "ErrorCode", error.code)
    sub(element, "SeverityCode", error.severity)
    for i, value in enumerate(error.params):
        param = sub(element, "ErrorParameters", None)
        param.set("ParamID", str(i))
        sub(param, "Value", value)
    sub(element, "ErrorClassification", error.classification)
    return element


def fault(code: str, message: str) -> bytes:
    body = ET.Element(f"{{{SOAP_ENV}}}Fault")
    ET.SubElement(body, "faultcode").text = code
    ET.SubElement(body, "faultstring").text = message
    return envelope(body)


def sub(parent: ET.Element, name: str, text: Any) -> ET.Element:
    child = ET.SubElement(parent, q(name))
    if text is not None:
        child.text = str(text)
    return child


def ebay_time(at: float | None = None) -> str:
    """eBay writes times in GMT with milliseconds: 2026-01-15T10:04:05.123Z."""
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def read_time(text: str | None) -> float | None:
    """An xs:dateTime (eBay's Z form or an offset) as unix seconds; None when it is not one."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # eBay reads a time without a zone as GMT
    return moment.timestamp()


def notification_signature(timestamp: str, dev_id: str, app_id: str, cert_id: str) -> str:
    """eBay's NotificationSignature: base64 of the MD5 of Timestamp + DevID + AppID + CertID."""
    digest = hashlib.md5(f"{timestamp}{dev_id}{app_id}{cert_id}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()
