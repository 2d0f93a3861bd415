"""Can this request run here? The packages, GPU, TensorRT and Docker engine a plan needs, with the install command.

``plan`` reports it (``preflight``); ``run`` refuses a request that cannot run (exit code 2, no job recorded), so a
missing extra is a clear message before anything starts, not a job that fails later (or an AutoML study stuck in
``queued``). Checks are cheap: module lookups without importing, ``/proc`` for GPUs, one ping for Docker.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pydantic import Field

from tao_skill.errors import Issue, LazyModel, UserError

__all__ = [
    "DISTRIBUTION",
    "EXTRAS",
    "Check",
    "Preflight",
    "missing_modules",
    "install_command",
    "gpu_count",
    "docker_engine",
    "extra_check",
    "uses_engine",
    "tensorrt_check",
    "gpu_check",
    "engine_check",
    "for_request",
    "require",
]

DISTRIBUTION = "tao-skill-bank"
#: Optional extras of the distribution -> the modules they provide (kept equal to pyproject by a test).
EXTRAS: dict[str, tuple[str, ...]] = {
    "trainer": ("torch", "lightning", "numpy", "PIL", "onnx", "onnxruntime", "matplotlib", "tensorboard"),
    "automl": ("optuna",),
    "s3": ("boto3",),
    "docker": ("docker",),
    "mcp": ("mcp",),
    "wandb": ("wandb",),
    "ray": ("ray",),
    "postgres": ("psycopg",),
}
#: What each extra is for, in the words a user acts on.
PURPOSE = {
    "trainer": "the local backend (the embedded trainer runs in this Python)",
    "automl": "the AutoML route (train's default; --automl-policy off trains directly)",
    "s3": "s3:// data sources",
    "docker": "--backend docker",
    "mcp": "tao-skill mcp",
    "wandb": "wandb.enable (Weights & Biases logging)",
    "ray": "--backend ray (jobs and AutoML trials on a Ray cluster)",
    "postgres": "AutoML studies on PostgreSQL (storage=postgresql+psycopg://...)",
}


class Check(LazyModel):
    """One thing a request needs: whether it is here, what it is for, how to get it."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


class Preflight(LazyModel):
    """Whether the request can run here; ``install`` is one command covering every missing extra."""

    ok: bool = True
    checks: list[Check] = Field(default_factory=list)
    install: str | None = None

    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def missing_modules(extra: str) -> list[str]:
    """Modules of ``extra`` that cannot be imported here (looked up, not imported)."""
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def install_command(extras: list[str] | tuple[str, ...]) -> str:
    """``pip install 'tao-skill-bank[a,b]'`` for the given extras."""
    return f"pip install '{DISTRIBUTION}[{','.join(sorted(set(extras)))}]'"


def gpu_count() -> int:
    """NVIDIA GPUs the driver exposes (``/proc/driver/nvidia/gpus``); 0 without a driver."""
    folder = Path("/proc/driver/nvidia/gpus")
    try:
        return sum(1 for _ in folder.iterdir())
    except OSError:
        return 0


def docker_engine(timeout: float = 3.0) -> tuple[bool, str]:
    """(reachable, what was found) for the Docker engine the SDK would use."""
    try:
        import docker
    except ImportError:
        return False, "the Docker SDK is not installed"
    try:
        client = docker.from_env(timeout=timeout)
        version = client.version().get("Version", "?")
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine reads the same
        return False, f"no reachable Docker engine ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    return True, f"Docker engine {version}"


def extra_check(extra: str, reason: str) -> Check:
    """Whether the modules of ``extra`` are installed, for ``reason`` (what the request does that needs them)."""
    missing = missing_modules(extra)
    if not missing:
        return Check(name=f"extra:{extra}", ok=True, detail=f"{', '.join(EXTRAS[extra])} installed ({reason})")
    return Check(
        name=f"extra:{extra}",
        ok=False,
        detail=f"{reason} needs {', '.join(missing)} (the '{extra}' extra), not installed in this Python",
        fix=install_command([extra]),
    )


def uses_engine(action: str, spec: dict[str, Any]) -> bool:
    """Whether ``action`` runs a TensorRT engine (gen_trt_engine builds one; evaluate/inference may run one)."""
    if action == "gen_trt_engine":
        return True
    section = spec.get(action) if isinstance(spec.get(action), dict) else {}
    return action in ("evaluate", "inference") and (
        bool(section.get("trt_engine")) or str(section.get("checkpoint") or "").endswith(".engine")
    )


def tensorrt_check(action: str) -> Check:
    found = importlib.util.find_spec("tensorrt") is not None
    return Check(
        name="tensorrt",
        ok=found,
        detail="TensorRT installed" if found else f"{action} with a TensorRT engine needs TensorRT here",
        fix="" if found else "use --backend docker (TAO's deploy image), or install tensorrt",
    )


def gpu_check(what: str, alternative: str = "") -> Check:
    gpus = gpu_count()
    fix = "run on a machine with an NVIDIA GPU and driver" + (f", or {alternative}" if alternative else "")
    return Check(
        name="gpu",
        ok=gpus > 0,
        detail=f"{gpus} NVIDIA GPU(s)" if gpus else f"{what} needs an NVIDIA GPU; none found",
        fix="" if gpus else fix,
    )


def engine_check() -> Check:
    reachable, detail = docker_engine()
    return Check(
        name="docker_engine",
        ok=reachable,
        detail=detail,
        fix="" if reachable else "start Docker (or set DOCKER_HOST), or use --backend local",
    )


def for_request(
    *,
    action: str,
    route: str,
    launcher: Any,
    spec: dict[str, Any],
    data_sources: dict[str, str],
    parent_model: str | None = None,
) -> Preflight:
    """Every check a planned request needs here: the route's, the data's and the backend's (``launcher.preflight``)."""
    checks: list[Check] = []
    if route == "automl":
        checks.append(extra_check("automl", "the AutoML route"))
    if any(str(uri).startswith("s3://") for uri in [*data_sources.values(), parent_model or ""]):
        checks.append(extra_check("s3", "s3:// data"))
    checks += launcher.preflight(action, spec)
    missing = [c.name.split(":", 1)[1] for c in checks if not c.ok and c.name.startswith("extra:")]
    return Preflight(ok=all(c.ok for c in checks), checks=checks, install=install_command(missing) if missing else None)


def require(preflight: Preflight, what: str) -> None:
    """Raise a UserError (exit code 2) listing what is missing, with the install command, unless ``ok``."""
    if preflight.ok:
        return
    issues = [
        Issue(path=c.name, rule="preflight", message=c.detail, hint=c.fix, value=None) for c in preflight.problems()
    ]
    message = f"{what} cannot run here"
    if preflight.install:
        message += f"; install what it needs with: {preflight.install}"
    raise UserError(message, issues)
