"""The deployment files (Dockerfile, .dockerignore, deploy/kuberay/*.yaml) read as the code they
point at: no container daemon or Kubernetes runs them here, so these checks are what keeps them true.
Every variable they set is one Threadcount or Ray reads, every secret they name is in the example
Secret, the ports and probe paths are the service's, and no secret value is written in plain."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.config import ConfigError, load_settings
from service.ray_start import health_env

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CLUSTER = REPO / "deploy" / "kuberay" / "raycluster.yaml"
EXAMPLE_SECRET = REPO / "deploy" / "kuberay" / "secrets.example.yaml"
CODE = ("inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web")
# Set by the cluster for code that another branch of the scale-out work adds (N web processes on the
# head). Tolerated only while no code reads it; once merged, the name is checked like any other.
PENDING: set[str] = set()
SECRET_NAMES = re.compile(r"(TOKEN|PASSWORD|SECRET|KEY|DATABASE_URL)")


# --- the Dockerfile, line by line ---------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each logical line: continuations joined, comments dropped."""
    found, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in rest.split())
    return env


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    return any(fnmatch(path, pattern) or fnmatch(path.split("/")[0], pattern) for pattern in dockerignore())


def test_the_image_is_python_3_11_slim_and_runs_the_service_as_a_user_who_is_not_root() -> None:
    stage = final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    assert json.loads(dict(stage)["CMD"]) == ["python", "run.py"]
    users = [i for i, (keyword, _) in enumerate(stage) if keyword == "USER"]
    assert users, "the image must not run as root"
    assert dict(stage)["USER"] not in ("root", "0")
    assert all(i < users[-1] for i, (keyword, _) in enumerate(stage) if keyword == "RUN")


def test_the_image_exposes_the_services_default_ports() -> None:
    defaults = load_settings(None, env={})
    assert dict(final_stage())["EXPOSE"].split() == [str(defaults.web_port), str(defaults.ingress_port)]


def test_the_image_installs_the_package_and_the_dashboards_front_end_packages() -> None:
    steps = instructions(DOCKERFILE.read_text())
    runs = [rest for keyword, rest in final_stage() if keyword == "RUN"]
    assert any(re.search(r"\bpip install\b.*(\s-e\s+\.|\s\.)$", run) for run in runs)
    frontend = next(rest.split()[-1] for keyword, rest in steps if keyword == "FROM" and " AS " in rest)
    stage_runs = [rest for keyword, rest in steps if keyword == "RUN"]
    assert any(run.startswith("npm ci") for run in stage_runs)
    assert any(keyword == "COPY" and rest.startswith(f"--from={frontend} ") and "node_modules" in rest
               for keyword, rest in final_stage())


def test_every_file_the_image_copies_is_in_the_repository_and_not_left_out_by_dockerignore() -> None:
    copied = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "COPY" and not rest.startswith("--from="):
            copied += rest.split()[:-1]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source.rstrip("/")), f"COPY {source}: .dockerignore leaves it out of the context"


def test_the_build_context_leaves_out_state_local_installs_and_the_tests() -> None:
    for path in ("data", "node_modules", ".git", "tests", "tests/unit/test_config.py"):
        assert ignored(path), path


def test_the_image_listens_on_every_interface_through_settings_the_service_reads() -> None:
    settings = load_settings(None, env=image_env())
    assert (settings.web_host, settings.ingress_host) == ("0.0.0.0", "0.0.0.0")
    assert settings.data_dir == Path("/data")


# --- the RayCluster and its Service -------------------------------------------------------------

@cache
def documents(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def cluster() -> dict[str, Any]:
    return next(doc for doc in documents(CLUSTER) if doc["kind"] == "RayCluster")


def head() -> dict[str, Any]:
    return cluster()["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]


def containers() -> list[dict[str, Any]]:
    spec = cluster()["spec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [c for group in groups for c in group["template"]["spec"]["containers"]]


def cluster_env_names() -> set[str]:
    return {entry["name"] for c in containers() for entry in c.get("env", [])}


def env_names() -> set[str]:
    return cluster_env_names() | set(image_env())


def example_secret() -> dict[str, Any]:
    (secret,) = documents(EXAMPLE_SECRET)
    return secret


@cache
def code_text() -> str:
    files = [REPO / "run.py", *(f for package in CODE for f in sorted((REPO / package).rglob("*.py")))]
    return "\n".join(f.read_text() for f in files)


def unread_settings(names: set[str]) -> set[str]:
    """THREADCOUNT_* names no module of Threadcount mentions (so none reads them)."""
    return {name for name in names if name.startswith("THREADCOUNT_")
            and not re.search(rf"\b{name}\b", code_text())}


@cache
def ray_server_binary() -> bytes:
    spec = importlib.util.find_spec("ray")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "core" / "src" / "ray" / "gcs" / "gcs_server").read_bytes()


def test_the_cluster_is_a_kuberay_raycluster_with_a_head_and_a_worker_group() -> None:
    spec = cluster()["spec"]
    assert cluster()["apiVersion"] == "ray.io/v1"
    assert spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert len(spec["workerGroupSpecs"]) >= 1
    for group in spec["workerGroupSpecs"]:
        assert group["replicas"] >= group.get("minReplicas", 0) >= 0 and group["groupName"]
    assert all(c.get("image") for c in containers())


def test_the_head_starts_ray_then_the_service_and_the_workers_start_ray() -> None:
    assert cluster()["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true"
    head_script = head()["args"][0]
    assert head_script.index("KUBERAY_GEN_RAY_START_CMD/--block/") < head_script.index("exec python run.py")
    for worker in containers()[1:]:
        assert "exec $KUBERAY_GEN_RAY_START_CMD" in worker["args"][0]


def test_every_setting_the_cluster_sets_is_one_threadcount_reads() -> None:
    unread = unread_settings(env_names())
    assert unread <= PENDING, f"no Threadcount code reads {sorted(unread - PENDING)}"


def test_a_setting_no_code_reads_is_found() -> None:
    assert unread_settings({"THREADCOUNT_NO_SUCH_SETTING", "THREADCOUNT_WEB_PORT"}) == {
        "THREADCOUNT_NO_SUCH_SETTING"}


def test_every_ray_setting_the_cluster_sets_is_one_rays_gcs_server_reads() -> None:
    ray_names = {name for name in env_names() if name.startswith("RAY_")}
    assert {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"} <= ray_names
    for name in ray_names:
        assert name.encode() in ray_server_binary(), f"Ray's GCS server does not read {name}"


def test_the_cluster_sets_only_threadcount_and_ray_variables() -> None:
    assert {name.split("_")[0] for name in cluster_env_names()} <= {"THREADCOUNT", "RAY"}


def test_the_head_checks_the_nodes_with_the_health_checks_the_service_is_tuned_for() -> None:
    env = {entry["name"]: entry.get("value") for entry in head()["env"]}
    assert {name: env.get(name) for name in health_env()} == health_env()  # HEALTH_CHECKS, as strings


def test_every_node_authenticates_to_ray_with_the_token_from_the_secret() -> None:
    for container in containers():
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "ray-auth-token"


def test_every_secret_the_cluster_names_is_a_key_of_the_example_secret() -> None:
    secret = example_secret()
    refs = [entry["valueFrom"]["secretKeyRef"] for c in containers() for entry in c["env"]
            if "valueFrom" in entry]
    assert refs
    for ref in refs:
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"], f"the example Secret has no key {ref['key']}"


def test_the_cluster_writes_no_secret_value_in_plain() -> None:
    for container in containers():
        for entry in container["env"]:
            if SECRET_NAMES.search(entry["name"]) and entry["name"] != "RAY_AUTH_MODE":
                assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], entry["name"]
    text = CLUSTER.read_text()
    assert not re.search(r"postgres(ql)?(\+\w+)?://[^\s/@]+:[^\s/@]+@", text), "a database password"
    for value in example_secret()["stringData"].values():
        assert value not in text


def test_the_head_gets_its_store_its_keys_and_its_admin_credentials_from_the_secret() -> None:
    env = {entry["name"]: entry for entry in head()["env"]}
    keys = {name: env[name]["valueFrom"]["secretKeyRef"]["key"] for name in (
        "THREADCOUNT_DATABASE_URL", "THREADCOUNT_SECRET_KEY", "THREADCOUNT_ADMIN_TOKEN",
        "THREADCOUNT_ADMIN_PASSWORD")}
    assert len(set(keys.values())) == 4


def head_env(secret: dict[str, str]) -> dict[str, str]:
    """The head container's environment as the service sees it, the Secret's values filled in."""
    env = image_env()
    for entry in head()["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        env[entry["name"]] = secret[ref["key"]] if ref else entry["value"]
    return env


def test_the_head_settings_load_as_a_cluster_member_on_postgresql() -> None:
    secret = {**example_secret()["stringData"], "secret-key": "a passphrase of 16 characters or more"}
    settings = load_settings(REPO / "config.yaml", env=head_env(secret))
    assert settings.ray_address == "auto"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.demo is False


def test_the_ports_are_the_services_defaults_and_the_service_exposes_both() -> None:
    defaults = load_settings(None, env={})
    ports = {port["name"]: port["containerPort"] for port in head()["ports"]}
    assert (ports["web"], ports["ingress"]) == (defaults.web_port, defaults.ingress_port)
    service = next(doc for doc in documents(CLUSTER) if doc["kind"] == "Service")
    assert {(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        (defaults.web_port, "web"), (defaults.ingress_port, "ingress")}
    assert service["spec"]["selector"] == {"ray.io/cluster": cluster()["metadata"]["name"],
                                           "ray.io/node-type": "head"}


def app_routes() -> set[str]:
    tree = ast.parse((REPO / "web" / "app.py").read_text())
    return {call.args[0].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Route"
            and call.args and isinstance(call.args[0], ast.Constant)}


def test_the_probes_ask_routes_of_the_web_app_on_the_web_port() -> None:
    assert {"/healthz", "/readyz"} <= app_routes()
    assert head()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    assert head()["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert head()["startupProbe"]["httpGet"]["path"] in app_routes()


def test_the_workers_have_probes_of_their_own_that_need_no_ray_dashboard() -> None:
    for worker in containers()[1:]:
        for probe in ("readinessProbe", "livenessProbe"):
            assert "raylet" in " ".join(worker[probe]["exec"]["command"])


def test_the_example_secret_is_marked_as_an_example_and_the_service_refuses_its_key() -> None:
    assert EXAMPLE_SECRET.read_text().startswith("# EXAMPLE ONLY")
    assert all("CHANGE-ME" in value for value in example_secret()["stringData"].values())
    with pytest.raises(ConfigError, match="THREADCOUNT_SECRET_KEY"):
        load_settings(REPO / "config.yaml", env=head_env(example_secret()["stringData"]))
