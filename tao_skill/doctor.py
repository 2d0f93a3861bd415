"""``tao-skill doctor``: what this machine has for running skills, check by check, each with how to fix it.

Python packages per extra, NVIDIA driver and GPUs, TensorRT, the Docker engine and the skills' images, the Ray
cluster (reachable, nodes, free GPUs), the results store and the study database,
credentials (present or not, by name only: never a value) and free disk under ``TAO_SKILL_HOME``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

from tao_skill.errors import LazyModel
from tao_skill.home import skill_home
from tao_skill.preflight import DISTRIBUTION, EXTRAS, PURPOSE, docker_engine, gpu_count, install_command

__all__ = ["DoctorCheck", "run_checks", "CREDENTIALS", "LOW_DISK_GIB"]

#: Credentials a job may need, by name: environment variables and the files that hold them.
CREDENTIALS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AWS (s3:// data)": (("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"), ("~/.aws/credentials",)),
    "NGC (nvcr.io images)": (("NGC_API_KEY",), ("~/.ngc/config",)),
    "TAO encryption key": (("TAO_ENCRYPTION_KEY",), ()),
}
LOW_DISK_GIB = 20.0
#: Module -> distribution, where the names differ.
_DISTRIBUTIONS = {"PIL": "pillow"}


class DoctorCheck(LazyModel):
    """One line of the report."""

    group: str
    name: str
    status: Literal["ok", "missing", "warning", "info"]
    detail: str = ""
    fix: str = ""


def _version(module: str) -> str | None:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        return "" if importlib.util.find_spec(module) is not None else None


def _packages() -> list[DoctorCheck]:
    checks = [
        DoctorCheck(
            group="python",
            name="python",
            status="ok",
            detail=f"{sys.version.split()[0]} at {sys.executable}",
        )
    ]
    try:
        own = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        own = "source checkout"
    checks.append(DoctorCheck(group="python", name=DISTRIBUTION, status="ok", detail=own))
    for extra, modules in EXTRAS.items():
        versions = {m: _version(m) for m in modules}
        missing = [m for m, v in versions.items() if v is None]
        found = ", ".join(f"{m} {v}".strip() for m, v in versions.items() if v is not None)
        checks.append(
            DoctorCheck(
                group="extras",
                name=extra,
                status="missing" if missing else "ok",
                detail=(f"missing {', '.join(missing)}; " if missing else "")
                + f"for {PURPOSE[extra]}"
                + (f" ({found})" if found else ""),
                fix=install_command([extra]) if missing else "",
            )
        )
    return checks


def _gpus() -> list[DoctorCheck]:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [DoctorCheck(group="gpu", name="nvidia", status="warning", detail=f"nvidia-smi failed: {exc}")]
        lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        if out.returncode == 0 and lines:
            driver = lines[0].split(",")[2].strip() if lines[0].count(",") >= 2 else "?"
            return [
                DoctorCheck(group="gpu", name="driver", status="ok", detail=f"NVIDIA driver {driver}"),
                *(
                    DoctorCheck(group="gpu", name=f"gpu{line.split(',')[0]}", status="ok", detail=line)
                    for line in lines
                ),
            ]
        return [
            DoctorCheck(
                group="gpu",
                name="driver",
                status="warning",
                detail=f"nvidia-smi found but answered: {(out.stderr or out.stdout).strip()[:200]}",
            )
        ]
    count = gpu_count()
    if count:
        return [DoctorCheck(group="gpu", name="driver", status="ok", detail=f"{count} NVIDIA GPU(s); no nvidia-smi")]
    return [
        DoctorCheck(
            group="gpu",
            name="driver",
            status="info",
            detail="no NVIDIA driver: jobs train on CPU; TensorRT and TAO's containers need a GPU",
            fix="install the NVIDIA driver on a GPU machine",
        )
    ]


def _tensorrt() -> DoctorCheck:
    version = _version("tensorrt")
    if version is None:
        return DoctorCheck(
            group="gpu",
            name="tensorrt",
            status="info",
            detail="TensorRT not installed: gen_trt_engine and engine evaluate/inference need --backend docker",
            fix="use --backend docker (TAO's deploy image), or pip install tensorrt on a GPU machine",
        )
    return DoctorCheck(group="gpu", name="tensorrt", status="ok", detail=f"TensorRT {version}".strip())


def _docker(images: list[str]) -> list[DoctorCheck]:
    reachable, detail = docker_engine()
    if not reachable:
        return [
            DoctorCheck(
                group="docker",
                name="engine",
                status="info",
                detail=detail + " (needed only for --backend docker)",
                fix=install_command(["docker"]) if "SDK" in detail else "start Docker or set DOCKER_HOST",
            )
        ]
    checks = [DoctorCheck(group="docker", name="engine", status="ok", detail=detail)]
    import docker

    client = docker.from_env(timeout=5)
    try:
        runtimes = client.info().get("Runtimes") or {}
        checks.append(
            DoctorCheck(
                group="docker",
                name="nvidia runtime",
                status="ok" if "nvidia" in runtimes else "warning",
                detail="nvidia container runtime" + ("" if "nvidia" in runtimes else " not registered"),
                fix="" if "nvidia" in runtimes else "install nvidia-container-toolkit",
            )
        )
        for image in images:
            try:
                client.images.get(image)
                checks.append(DoctorCheck(group="docker", name=image, status="ok", detail="image present"))
            except Exception:  # noqa: BLE001 - not pulled (or not readable) reads the same
                checks.append(
                    DoctorCheck(
                        group="docker",
                        name=image,
                        status="info",
                        detail="not pulled yet (the first docker job pulls it)",
                        fix=f"docker pull {image}",
                    )
                )
    finally:
        client.close()
    return checks


def _credentials() -> list[DoctorCheck]:
    checks = []
    for name, (variables, files) in CREDENTIALS.items():
        found = [v for v in variables if os.environ.get(v)] + [f for f in files if Path(f).expanduser().is_file()]
        checks.append(
            DoctorCheck(
                group="credentials",
                name=name,
                status="ok" if found else "info",
                detail=f"found: {', '.join(found)}" if found else f"not set ({', '.join(variables + files)})",
            )
        )
    return checks


def _disk(home: Path) -> DoctorCheck:
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free = usage.free / 2**30
    return DoctorCheck(
        group="disk",
        name="TAO_SKILL_HOME",
        status="ok" if free >= LOW_DISK_GIB else "warning",
        detail=f"{free:.1f} GiB free under {home}",
        fix="" if free >= LOW_DISK_GIB else f"free space or point TAO_SKILL_HOME elsewhere (< {LOW_DISK_GIB:g} GiB)",
    )


def _images() -> list[str]:
    from tao_skill.skill import available_skills, load_skill

    found: list[str] = []
    for name in available_skills():
        try:
            info = load_skill(name).info
        except Exception:  # noqa: BLE001 - a broken skill is `tao-skill list`'s business
            continue
        for image in [info.container_image, *info.runtime.container_images.values()]:
            if image and image not in found:
                found.append(image)
    return found


def _ray_cluster() -> list[DoctorCheck]:
    """The Ray cluster at RAY_ADDRESS: reachable, its live nodes, its free GPUs."""
    from tao_skill import cluster
    from tao_skill.errors import UserError

    address = cluster.ray_address(required=False)
    if address is None:
        return [
            DoctorCheck(
                group="cluster",
                name="ray",
                status="info",
                detail=f"{cluster.RAY_ADDRESS_ENV} not set (needed by --backend ray)",
                fix="start a cluster (ray start --head) and set RAY_ADDRESS=http://HEAD:8265",
            )
        ]
    try:
        facts = cluster.cluster_facts(address)
    except UserError as exc:
        issue = exc.issues[0] if exc.issues else None
        return [
            DoctorCheck(
                group="cluster", name="ray", status="missing", detail=exc.message, fix=issue.hint if issue else ""
            )
        ]
    alive = facts.alive_nodes
    cpus = sum(n.resources.get("CPU", 0.0) for n in alive)
    free = "unknown" if facts.gpus_free is None else f"{facts.gpus_free:g}"
    return [
        DoctorCheck(group="cluster", name="ray", status="ok", detail=f"Ray {facts.ray_version} at {facts.address}"),
        DoctorCheck(
            group="cluster",
            name="nodes",
            status="ok" if alive else "missing",
            detail=f"{len(alive)} live of {len(facts.nodes)} node(s), {cpus:g} CPUs "
            f"({', '.join(('head ' if n.head else '') + n.node_id[:8] for n in alive)})",
            fix="" if alive else "start a node: ray start --address HEAD:6379",
        ),
        DoctorCheck(
            group="cluster",
            name="gpus",
            status="ok" if facts.gpus_total else "info",
            detail=f"{free} free of {facts.gpus_total:g} GPU(s)" if facts.gpus_total else "no GPUs: jobs run on CPUs",
        ),
    ]


def _results_store() -> DoctorCheck:
    """Where cluster jobs put their results (TAO_SKILL_RESULTS_URI), and whether it can be listed."""
    from tao_skill import cluster, s3_files
    from tao_skill.errors import RuntimeFailure, UserError

    uri = cluster.results_uri()
    if uri is None:
        return DoctorCheck(
            group="cluster",
            name="results",
            status="info",
            detail=f"{cluster.RESULTS_URI_ENV} not set (cluster jobs need results on s3:// or a shared folder)",
            fix="pass --results-uri s3://bucket/prefix or set TAO_SKILL_RESULTS_URI",
        )
    try:
        s3_files.probe(uri)
    except (UserError, RuntimeFailure) as exc:
        return DoctorCheck(group="cluster", name="results", status="missing", detail=str(exc).splitlines()[0])
    return DoctorCheck(group="cluster", name="results", status="ok", detail=f"{uri} is reachable")


def _study_database() -> DoctorCheck:
    """The default AutoML study storage (TAO_SKILL_AUTOML_STORAGE): a database every node's worker reaches."""
    from tao_skill.automl.database import STORAGE_ENV, probe_storage

    url = os.environ.get(STORAGE_ENV, "").strip()
    if not url:
        return DoctorCheck(
            group="cluster",
            name="study database",
            status="info",
            detail=f"{STORAGE_ENV} not set (studies default to a journal file under TAO_SKILL_HOME)",
            fix="set TAO_SKILL_AUTOML_STORAGE=postgresql+psycopg://USER@HOST/DB for studies shared across machines",
        )
    ok, detail = probe_storage(url)
    return DoctorCheck(
        group="cluster",
        name="study database",
        status="ok" if ok else "missing",
        detail=detail,
        fix="" if ok else "check the URL, that the server runs and accepts this machine, and the 'postgres' extra",
    )


def run_checks(home: str | None = None) -> list[DoctorCheck]:
    """Every check, in report order."""
    return [
        *_packages(),
        *_gpus(),
        _tensorrt(),
        *_docker(_images()),
        *_ray_cluster(),
        _results_store(),
        _study_database(),
        *_credentials(),
        _disk(skill_home(home)),
    ]
