"""Results of stock commands as JSON, so a replayed command is answered with its first result."""

from __future__ import annotations

import json

from inventory.commands import Failure, VariantStock


def result_to_json(result: Failure | VariantStock) -> str:
    if isinstance(result, Failure):
        return json.dumps({"failure": [result.code, result.message]})
    levels = {str(loc): list(pair) for loc, pair in result.levels.items()}
    return json.dumps({"variant_id": result.variant_id, "levels": levels, "backordered": result.backordered})


def result_from_json(text: str) -> Failure | VariantStock:
    data = json.loads(text)
    if "failure" in data:
        # rows written before Failure lost its HTTP status hold [code, message, status]
        code, message = data["failure"][:2]
        return Failure(code, message)
    levels = {int(loc): (pair[0], pair[1]) for loc, pair in data["levels"].items()}
    return VariantStock(data["variant_id"], levels, data["backordered"])
