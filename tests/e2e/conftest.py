"""The service as a user runs it: `python run.py` in its own process group, spoken to over HTTP."""

from __future__ import annotations

import os
import secrets
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.sharing import Shared, in_sharing_order, needed_after
from tests.harness.procs import ServerProcess, free_ports

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    process: ServerProcess
    base: str
    token: str
    data_dir: Path
    env: dict[str, str]
    verify: ssl.SSLContext | bool = True  # with TLS: a context trusting the service's certificate

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, verify=self.verify,
                            headers={"Authorization": f"Bearer {token or self.token}"})

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=30, verify=self.verify,
                                 headers={"Authorization": f"Bearer {self.token}"})


def start_service(data_dir: Path, *, demo: bool = False, name: str = "threadcount",
                  extra_env: dict[str, str] | None = None, ports: tuple[int, int] | None = None,
                  trust: ssl.SSLContext | None = None) -> Service:
    """`trust`: the service speaks HTTPS (extra_env names its certificate), verified with this."""
    web_port, ingress_port = ports or tuple(free_ports(2))
    token = secrets.token_urlsafe(16)
    # the service's own settings only (the tests' Ray token stays the tests')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THREADCOUNT_", "RAY_AUTH_"))}
    env.update(
        THREADCOUNT_DATA_DIR=str(data_dir), THREADCOUNT_WEB_PORT=str(web_port),
        THREADCOUNT_INGRESS_PORT=str(ingress_port), THREADCOUNT_DEMO="1" if demo else "0",
        THREADCOUNT_ADMIN_TOKEN=token, THREADCOUNT_SHARDS="2", PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    process = ServerProcess(name, [sys.executable, str(REPO / "run.py")], env=env,
                            log_path=data_dir / f"{name}.log")
    process.start()
    base = f"{'https' if trust else 'http'}://127.0.0.1:{web_port}"
    process.wait_ready(f"{base}/healthz", timeout=60, ssl_context=trust)
    return Service(process, base, token, data_dir, env, trust or True)


# --- the shared services (tests/e2e/sharing.py) ---------------------------------------------------
# Every module that asks for `service` shares one, and every module that asks for `demo` shares one
# partner demo. A demo module sees what the demo modules before it did, so they run last in the tier,
# in this order (an unlisted one just before the conformance):
#   - test_kits_demo first: its page check wants the demo's catalogue as seeded;
#   - test_partner_orders before test_partners: Amazon's SQS subscription is counted once, and
#     test_partners SIGKILLs the Amazon actor (a new actor subscribes again);
#   - test_dashboard_pages after the partner modules: the product it adds would be the first "SKU with
#     stock" the partner tests pick;
#   - test_openapi_conformance last: nobody after it sees its generated orders, users and stock.
DEMO_MODULES = ("test_kits_demo", "test_metrics", "test_partner_orders", "test_partners",
                "test_dashboard_pages", "test_openapi_conformance")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    in_sharing_order(items, Path(__file__).parent, DEMO_MODULES)


def _api_service(folder: Path) -> Service:
    """The API tests' service, with the locations config.yaml's channels name."""
    running = start_service(folder)
    with running.client() as api:
        for code, kind, priority in [("WH-EAST", "warehouse", 10), ("WH-WEST", "warehouse", 20),
                                     ("STORE-SOHO", "store", 30)]:
            api.post("/api/v1/locations", json={"code": code, "name": code, "kind": kind,
                                                "priority": priority}).raise_for_status()
    return running


def _partner_demo(folder: Path) -> Service:
    """The demo with every partner and its simulator, shoppers off, the dashboard admin's password set."""
    from tests.e2e.partner_demo import wait_for
    from tests.e2e.test_dashboard_pages import PASSWORD

    running = start_service(folder, demo=True, extra_env={"THREADCOUNT_SHOPPERS": "0",
                                                          "THREADCOUNT_ADMIN_PASSWORD": PASSWORD})
    # Ready, not just up: every partner's connector answers. A test that meets the demo first (run on its
    # own, or the first of its module in an xdist process of its own) would otherwise see partners missing.
    with running.client() as api:
        wait_for(lambda: api.get("/readyz").status_code == 200, 90, "the demo ready (/readyz)", every=0.2)
    return running


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Shared]]:
    services = {"service": Shared(lambda: _api_service(tmp_path_factory.mktemp("service"))),
                "demo": Shared(lambda: _partner_demo(tmp_path_factory.mktemp("partners")))}
    yield services
    for one in services.values():
        one.stop()


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest, shared: dict[str, Shared]) -> Iterator[Service]:
    """The session's service for the API tests (stopped after the last module that uses it)."""
    yield shared["service"].get()
    if not needed_after(request, "service"):
        shared["service"].stop()


@pytest.fixture(scope="module")
def demo(request: pytest.FixtureRequest, shared: dict[str, Shared]) -> Iterator[Service]:
    """The session's partner demo (stopped after the last module that uses it)."""
    yield shared["demo"].get()
    if not needed_after(request, "demo"):
        shared["demo"].stop()


@pytest.fixture(scope="module")
def api(demo: Service) -> Iterator[httpx.Client]:
    with demo.client() as client:
        yield client


@pytest.fixture(scope="module")
def sims(api: httpx.Client) -> dict[str, str]:
    from tests.e2e.partner_demo import all_listed, wait_for

    found = wait_for(lambda: all_listed(api), 60, "every partner listed with its simulator")
    return {p["id"]: p["base_url"] for p in found}
