"""Where cluster jobs go and what the cluster has: the Ray address, the results URI, shared paths, nodes and GPUs.

Settings come from the environment (the CLI's ``--ray-address`` and ``--results-uri`` set the same variables):

- ``RAY_ADDRESS``: the Ray dashboard's address (``http://head:8265``, as ``ray job submit`` takes it);
- ``TAO_SKILL_RESULTS_URI``: ``s3://bucket/prefix`` under which each cluster job writes ``<prefix>/<job id>``;
- ``TAO_SKILL_SHARED_PATHS``: folders every node sees at the same path (``:``-separated), e.g. an NFS mount:
  local data, model files and results under them may be used by cluster jobs.

Cluster facts are read over the dashboard's HTTP API with the standard library, so ``tao-skill doctor`` and
``tao-skill status`` need not import Ray.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tao_skill.errors import UserError

__all__ = [
    "RAY_ADDRESS_ENV",
    "RESULTS_URI_ENV",
    "SHARED_PATHS_ENV",
    "use_settings",
    "ray_address",
    "results_uri",
    "shared_paths",
    "is_shared",
    "Node",
    "ClusterFacts",
    "Dashboard",
    "cluster_facts",
]

RAY_ADDRESS_ENV = "RAY_ADDRESS"
RESULTS_URI_ENV = "TAO_SKILL_RESULTS_URI"
SHARED_PATHS_ENV = "TAO_SKILL_SHARED_PATHS"
TIMEOUT_SECONDS = 10.0


def use_settings(*, ray_address: str | None = None, results_uri: str | None = None) -> None:
    """Set the cluster settings given on a command line for this process and the processes it starts (an AutoML
    study's worker): they are the same environment variables."""
    for value, name in ((ray_address, RAY_ADDRESS_ENV), (results_uri, RESULTS_URI_ENV)):
        if value:
            os.environ[name] = value


def ray_address(explicit: str | None = None, *, required: bool = True) -> str | None:
    """The dashboard URL of the Ray cluster (``host:port`` gets ``http://``); a UserError when required and unset."""
    value = (explicit or os.environ.get(RAY_ADDRESS_ENV) or "").strip()
    if not value:
        if not required:
            return None
        raise UserError.single(
            "ray_address",
            "the ray backend needs the address of a Ray cluster",
            rule="ray_address",
            hint="pass --ray-address http://HEAD:8265 or set RAY_ADDRESS (start one with `ray start --head`)",
        )
    if value.startswith("ray://"):
        raise UserError.single(
            "ray_address",
            f"{value} is a Ray Client address; jobs are submitted to the dashboard's address",
            rule="ray_address",
            value=value,
            hint="use http://HEAD:8265 (the dashboard port, as for `ray job submit`)",
        )
    return value if "://" in value else f"http://{value}"


def results_uri() -> str | None:
    """The ``s3://`` prefix cluster jobs write their results under, when set."""
    value = os.environ.get(RESULTS_URI_ENV, "").strip().rstrip("/")
    return value or None


def shared_paths() -> list[Path]:
    """Folders declared visible at the same path on every node."""
    raw = os.environ.get(SHARED_PATHS_ENV, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def is_shared(path: str | os.PathLike[str]) -> bool:
    """Whether a local path lies under a shared folder."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved == base or resolved.is_relative_to(base) for base in shared_paths())


class Dashboard:
    """The Ray dashboard's HTTP API (jobs, nodes, cluster status) through urllib."""

    def __init__(self, address: str) -> None:
        self.address = address.rstrip("/")

    def request(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT_SECONDS) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.address + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 - the user's cluster address
            raw = answer.read()
        return json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode("utf-8", errors="replace")

    def get(self, path: str, timeout: float = TIMEOUT_SECONDS) -> Any:
        return self.request("GET", path, timeout=timeout)

    def unreachable(self, exc: Exception) -> UserError:
        return UserError.single(
            "ray_address",
            f"the Ray cluster at {self.address} does not answer ({type(exc).__name__}: {exc})",
            rule="ray_unreachable",
            value=self.address,
            hint="check --ray-address / RAY_ADDRESS (the dashboard, port 8265 by default) and that the head runs",
        )

    def version(self) -> dict[str, Any]:
        try:
            answer = self.get("/api/version")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise self.unreachable(exc) from None
        if not isinstance(answer, dict) or "ray_version" not in answer:
            raise UserError.single(
                "ray_address",
                f"{self.address} answers, but not as a Ray dashboard",
                rule="ray_unreachable",
                value=self.address,
                hint="give the dashboard's address (port 8265 by default)",
            )
        return answer


@dataclass
class Node:
    """One node of the cluster as the dashboard reports it."""

    node_id: str
    ip: str
    alive: bool
    head: bool
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class ClusterFacts:
    """The cluster's version, nodes and GPUs (``gpus_free`` from the autoscaler's last report, when it has one)."""

    address: str
    ray_version: str
    nodes: list[Node]
    gpus_total: float
    gpus_free: float | None

    @property
    def alive_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    def largest(self, resource: str) -> float:
        """The most of ``resource`` any one live node has (what one job can get)."""
        return max((n.resources.get(resource, 0.0) for n in self.alive_nodes), default=0.0)


def cluster_facts(address: str) -> ClusterFacts:
    """Ask the dashboard for version, nodes and GPU use (a UserError when it does not answer)."""
    board = Dashboard(address)
    version = board.version()
    try:
        answer = board.get("/api/v0/nodes?limit=1000&detail=true")
        rows = answer["data"]["result"]["result"]
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
        raise board.unreachable(exc) from None
    nodes = [
        Node(
            node_id=str(row.get("node_id", "")),
            ip=str(row.get("node_ip", "")),
            alive=row.get("state") == "ALIVE",
            head=bool(row.get("is_head_node")),
            resources={k: float(v) for k, v in (row.get("resources_total") or {}).items()},
        )
        for row in rows
    ]
    gpus_total = sum(n.resources.get("GPU", 0.0) for n in nodes if n.alive)
    gpus_free: float | None = None
    try:
        status = board.get("/api/cluster_status")
        usage = status["data"]["clusterStatus"]["loadMetricsReport"]["usage"]
        if "GPU" in usage:
            used, total = usage["GPU"]
            gpus_free = float(total) - float(used)
        else:
            gpus_free = 0.0
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        gpus_free = None
    return ClusterFacts(
        address=board.address,
        ray_version=str(version.get("ray_version", "")),
        nodes=nodes,
        gpus_total=gpus_total,
        gpus_free=gpus_free,
    )
