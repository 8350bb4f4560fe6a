"""What every partner's HTTP client reads from its connector at each call: the spec (whose
credentials it rewrites) and the limiter (which may be replaced after the client is made)."""

from __future__ import annotations

from connectors.base import Connector, PartnerSpec
from connectors.limits import Limiter


class ConnectorClient:
    def __init__(self, connector: Connector):
        self._connector = connector

    @property
    def spec(self) -> PartnerSpec:
        return self._connector.spec

    @property
    def limiter(self) -> Limiter:
        return self._connector.limiter
