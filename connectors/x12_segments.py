"""X12's lexical layer: the delimiters, a segment as a tuple of elements, splitting an interchange's
text into segments (with the delimiters its ISA declares) and writing one segment back as text.

The envelope (x12) and the documents (x12_documents) both build on this; it imports neither.
"""

from __future__ import annotations

SEGMENT, ELEMENT, COMPONENT = "~", "*", ">"

Segment = tuple[str, ...]


class X12Error(ValueError):
    """A file that is not the X12 we expect. `code` is the AK5 (transaction set) syntax error code
    a 997 would carry: 5 = one or more segments in error."""

    def __init__(self, message: str, code: str = "5"):
        super().__init__(message)
        self.code = code


def element_at(segment: Segment, index: int) -> str:
    """The element at `index` (0 is the tag), or "" when the segment is shorter."""
    return segment[index] if index < len(segment) else ""


def segment_text(segment: Segment) -> str:
    """Trailing empty elements are dropped, as X12 requires. (ISA16 is the component separator
    itself, so the ISA is exempt from the delimiter check; the envelope checks its ids.)"""
    if segment[0] != "ISA":
        check_elements(segment)
    return ELEMENT.join(segment).rstrip(ELEMENT) + SEGMENT


def check_elements(segment: Segment) -> None:
    for value in segment:
        if any(mark in value for mark in (SEGMENT, ELEMENT, COMPONENT, "\n", "\r")):
            raise X12Error(f"{segment[0]}: {value!r} holds an X12 delimiter")


def split_segments(text: str) -> list[Segment]:
    """Segments of an interchange, with the delimiters the ISA itself declares (element separator
    after "ISA", component separator ISA16, terminator right after it); line breaks between
    segments are tolerated."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise X12Error("not an X12 interchange: no ISA header")
    element = text[3]
    cut = -1
    for _ in range(16):
        cut = text.find(element, cut + 1)
        if cut < 0:
            raise X12Error("ISA header has fewer than 16 elements")
    terminator = text[cut + 2]
    if terminator.isalnum() or terminator == element:
        raise X12Error(f"ISA header: {terminator!r} cannot be a segment terminator")
    return [tuple(part.strip("\r\n").split(element)) for part in text.split(terminator) if part.strip()]
