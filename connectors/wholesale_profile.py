"""A distributor's X12 profile, from its partner options: each distributor's implementation guide
picks the X12 version, adds segments it requires after a document's header, names the files and
maps its own part numbers to our SKUs. Defaults match the plain 4010 of PARTNERS.md.

Options: `x12_version` "4010" | "5010"; `segments` {"846"|"855"|"997": ["REF*IA*V-1234", ...]}
(written as X12 text with `*`, inserted right after BIA / BAK / AK1); `file_names` {"846"|"855"|
"997"|"csv": "846_{control}.edi"} ({control} is the interchange control number, {partner} our id
for the partner); `part_numbers` {"<the distributor's part number (BP)>": "<our SKU>"};
`send_855` (true). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors import x12

FILE_NAMES = {"846": "846_{control}.edi", "855": "855_{control}.edi", "997": "997_{control}.edi",
              "csv": "inventory_{control}.csv"}


@dataclass(frozen=True, slots=True)
class X12Profile:
    version: str = "4010"
    segments: Mapping[str, tuple[x12.Segment, ...]] = field(default_factory=dict)
    file_names: Mapping[str, str] = field(default_factory=lambda: dict(FILE_NAMES))
    part_numbers: Mapping[str, str] = field(default_factory=dict)
    send_855: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> X12Profile:
        """ValueError naming the option when one is not usable."""
        version = str(options.get("x12_version", "4010"))
        if version not in x12.VERSIONS:
            raise ValueError(f"x12_version: {version!r} is not one of {', '.join(x12.VERSIONS)}")
        names = {**FILE_NAMES, **{str(k): str(v) for k, v in dict(options.get("file_names", {})).items()}}
        for document, name in names.items():
            if "{control}" not in name or "/" in name or name.startswith("."):
                raise ValueError(f"file_names.{document}: {name!r} needs {{control}}, no folder, "
                                 "no leading dot")
        segments = {str(set_id): tuple(_segment(set_id, text) for text in texts)
                    for set_id, texts in dict(options.get("segments", {})).items()}
        parts = {str(theirs): str(ours) for theirs, ours in dict(options.get("part_numbers", {})).items()}
        return cls(version, segments, names, parts, bool(options.get("send_855", True)))

    def file_name(self, document: str, control: int, partner: str) -> str:
        return self.file_names[document].format(control=control, partner=partner)

    def body(self, set_id: str, body: Sequence[x12.Segment]) -> list[x12.Segment]:
        """`body` with the guide's extra segments right after its header segment."""
        return [*body[:1], *self.segments.get(set_id, ()), *body[1:]]


def _segment(set_id: str, text: str) -> x12.Segment:
    segment = tuple(str(text).rstrip("~").split("*"))
    if not segment[0].isalnum() or segment[0] in ("ISA", "GS", "ST", "SE", "GE", "IEA"):
        raise ValueError(f"segments.{set_id}: {text!r} is not a segment the guide can add")
    try:
        x12.check_elements(segment)
    except x12.X12Error as exc:
        raise ValueError(f"segments.{set_id}: {exc}") from None
    return segment
