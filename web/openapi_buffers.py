"""The OpenAPI schema of a partner's buffer (`sync.buffer` in GET /api/v1/partners): fixed, or auto with
its reasoning (sync/buffers.py, AdaptiveBuffers.reasoning)."""

from __future__ import annotations

from web.openapi_schema import Schema, array, enum, integer, number, obj, string


def buffer_schema() -> Schema:
    fixed = obj({"mode": enum(["fixed"]), "units": integer(0, description="Kept back from every listing")})
    hottest = obj({"sku": string("Variant SKU"),
                   "units": integer(0, description="Its buffer now: shown as 0 from this many left"),
                   "rate_per_s": number("Units/s its available stock drops (sales on any channel)"),
                   "expected": number("Units expected to go within the lag")})
    auto = obj({
        "mode": enum(["auto"]),
        "floor": integer(0, description="buffer_min"), "ceiling": integer(0, description="buffer_max"),
        "window_s": number("Seconds the sales speed is weighted over (buffer_window_s)"),
        "confidence": number("Share of cases the buffer covers the sales within the lag (buffer_confidence)"),
        "lag_s": number("push_lag_s + order_delay_s: how long a sale there may go unseen"),
        "push_lag_s": number("90th percentile of the partner's last 100 pushed listings, change to accepted"),
        "order_delay_s": number("The longest wait of its orders to reach us (polled: interval + jitter)"),
        "lag_measured": {"type": "boolean", "description": "false: 1 s is assumed until a push is measured"},
        "channel_rate_per_s": number("Units/s the stock of the channel's locations drops, all listings"),
        "listings_above_floor": integer(0),
        "hottest": array(hottest, description="The fastest-selling listings above the floor (three at most)"),
    }, description="buffer: auto, sized per listing from how fast its stock goes and the partner's sync lag; "
       "a listing is shown as 0 once its pool is down to its buffer")
    return {"oneOf": [fixed, auto], "description": "What the partner's listings keep back"}
