"""Run a job's command in TAO's container through the Docker SDK (imported only when this backend is used).

Paths are mounted at the same place inside the container, so the spec needs no rewriting: the job's results
folder and the results root (parents' checkpoints) read-write, staged data read-only, any other local input
read-only. AWS settings are passed as environment variables and never printed or recorded.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tao_skill import overrides as ov
from tao_skill.errors import Issue, RuntimeFailure, UserError
from tao_skill.launchers._base import LOG_NAME, Launcher, LaunchHandle, PollResult
from tao_skill.models import ContainerRecord, Job, Mount
from tao_skill.preflight import Check, engine_check, extra_check

if TYPE_CHECKING:
    from tao_skill.skill import Skill
    from tao_skill.store import JobStore

__all__ = ["DockerLauncher", "build_request", "AWS_ENV_KEYS", "DEFAULT_SHM_SIZE"]

AWS_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
DEFAULT_SHM_SIZE = "16g"


def _gpu_ids(spec: dict[str, Any], action: str) -> list[int]:
    section = spec.get(action) or {}
    if isinstance(section.get("gpu_ids"), list):
        return [int(g) for g in section["gpu_ids"]]
    if isinstance(section.get("gpu_id"), int):
        return [section["gpu_id"]]
    return [0]


def image_kind(skill: Skill, action: str, spec: dict[str, Any]) -> str:
    """The image an action runs in: its ``action_images`` entry, switched by a given input that names an image
    (e.g. a TensorRT engine needs the deploy image) or by a given file's suffix (``suffix_images``)."""
    runtime = skill.info.runtime
    kind = runtime.action_images.get(action, "pyt")
    for key, io in skill.action(action).inputs.items():
        value = ov.get_dotted(spec, key)
        if value in (None, "", []):
            continue
        if io.image:
            return io.image
        for suffix, suffix_kind in runtime.suffix_images.items():
            if isinstance(value, str) and value.endswith(suffix):
                return suffix_kind
    return kind


def mounts_for(skill: Skill, action: str, spec: dict[str, Any], store: JobStore) -> list[Mount]:
    """The results root read-write, the staged-data cache read-only, and the folder of every other local input
    read-only, each at the same path inside the container."""
    from tao_skill.home import data_cache_root

    mounts = [Mount(path=str(store.results_root), mode="rw"), Mount(path=str(data_cache_root(store.home)), mode="ro")]
    for key, io in skill.action(action).inputs.items():
        value = ov.get_dotted(spec, key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and not item.startswith("s3://"):
                path = Path(item).resolve()
                folder = path if io.type == "folder" else path.parent
                if not any(str(folder).startswith(m.path) for m in mounts):
                    mounts.append(Mount(path=str(folder), mode="ro"))
    return mounts


def build_request(
    job: Job,
    spec_path: Path,
    command: list[str],
    *,
    image: str,
    mounts: list[tuple[str, str]],
    env: dict[str, str] | None = None,
    shm_size: str = DEFAULT_SHM_SIZE,
    gpu_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run``; ``device_requests`` is kept as plain data here."""
    environment = {k: os.environ[k] for k in AWS_ENV_KEYS if os.environ.get(k)}
    environment.update(env or {})
    volumes: dict[str, dict[str, str]] = {}
    for path, mode in mounts:
        if path in volumes and volumes[path]["mode"] == "rw":
            continue
        volumes[path] = {"bind": path, "mode": mode}
    return {
        "image": image,
        "command": command,
        "detach": True,
        "working_dir": job.results_dir,
        "volumes": volumes,
        "environment": environment,
        "shm_size": shm_size,
        "ipc_mode": None,
        "device_requests": [
            {"driver": "nvidia", "device_ids": [str(g) for g in (gpu_ids or [0])], "capabilities": [["gpu"]]}
        ],
        "labels": {"tao-skill.job": job.id, "tao-skill.action": job.action},
        "name": f"tao-skill-{job.id}",
    }


def describe_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request with environment values hidden (safe to print or store)."""
    shown = dict(request)
    shown["environment"] = sorted(request.get("environment", {}))
    return shown


class DockerLauncher(Launcher):
    """TAO container backend: pyt image for PyTorch actions, deploy image for TensorRT ones."""

    name = "docker"

    def __init__(self, client: Any = None, *, shm_size: str | None = None):
        self._client = client
        self.shm_size = shm_size or os.environ.get("TAO_SKILL_SHM_SIZE", DEFAULT_SHM_SIZE)
        self.last_request: dict[str, Any] | None = None

    def client(self) -> Any:
        if self._client is None:
            try:
                import docker
            except ImportError:
                raise UserError.single(
                    "backend",
                    "the docker backend needs the Docker SDK",
                    rule="dependency",
                    hint="pip install 'tao-skill-bank[docker]', or use --backend local",
                ) from None
            try:
                client = docker.from_env()
                client.ping()
            except Exception as exc:  # noqa: BLE001 - any failure to reach the engine is reported the same way
                raise UserError.single(
                    "backend",
                    f"no reachable Docker engine ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                    rule="docker_unavailable",
                    hint="start Docker (or set DOCKER_HOST), or use --backend local",
                ) from None
            self._client = client
        return self._client

    def check(self, plan_action: str | None = None) -> None:
        self.client()

    @classmethod
    def preflight(cls, action: str, spec: dict[str, Any]) -> list[Check]:
        """The Docker SDK and a reachable engine (the container brings the trainer, TensorRT and CUDA)."""
        sdk = extra_check("docker", "--backend docker")
        return [sdk, engine_check()] if sdk.ok else [sdk]

    @classmethod
    def adapt_spec(
        cls, spec: dict[str, Any], skill: Skill, action: str
    ) -> tuple[dict[str, Any], list[Issue], list[str]]:
        """TAO's container takes no embedded-trainer extension: drop those left at their default, refuse others."""
        from tao_skill.tao_compat import container_spec

        return container_spec(spec, skill.schema(action))

    def prepare(self, skill: Skill, action: str, spec: dict[str, Any], store: JobStore) -> ContainerRecord:
        kind = image_kind(skill, action, spec)
        image = skill.info.runtime.container_images.get(kind, skill.info.container_image)
        if not image:
            raise UserError.single(
                "backend",
                f"skill {skill.name} names no container image for '{kind}'",
                rule="skill_contract.container_image",
                hint="set container_image or runtime.container_images in its skill_info.yaml",
            )
        return ContainerRecord(image=image, image_kind=kind, mounts=mounts_for(skill, action, spec, store))

    def launch(
        self,
        job: Job,
        spec_path: Path,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cleanup: list[Path] | None = None,
    ) -> LaunchHandle:
        if job.container is None:
            raise RuntimeFailure(f"job {job.id} has no container record (image, mounts)")
        mounts = [(m.path, m.mode) for m in job.container.mounts]
        mounts.append((str(Path(job.results_dir)), "rw"))
        request = build_request(
            job,
            spec_path,
            command,
            image=job.container.image,
            mounts=mounts,
            env=env,
            shm_size=self.shm_size,
            gpu_ids=_gpu_ids(job.spec, job.action),
        )
        self.last_request = request
        kwargs = dict(request)
        kwargs.pop("ipc_mode", None)
        kwargs["device_requests"] = self._device_requests(request["device_requests"])
        try:
            container = self.client().containers.run(**kwargs)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise RuntimeFailure(f"Docker could not start {request['image']}: {exc}") from None
        return LaunchHandle(container_id=getattr(container, "id", None))

    @staticmethod
    def _device_requests(requests: list[dict[str, Any]]) -> list[Any]:
        try:
            from docker.types import DeviceRequest
        except ImportError:
            return requests
        return [DeviceRequest(**r) for r in requests]

    def poll(self, job: Job) -> PollResult:
        if not job.container_id:
            return PollResult(state=job.state)
        try:
            container = self.client().containers.get(job.container_id)
            container.reload()
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001
            return PollResult(state="failed", message=f"container {job.container_id} not found: {exc}")
        with contextlib.suppress(Exception):  # logs are best effort
            (Path(job.results_dir) / LOG_NAME).write_bytes(container.logs())
        status = container.status
        if status in ("created", "running", "restarting"):
            return PollResult(state="running")
        code = int(container.attrs.get("State", {}).get("ExitCode", 1))
        state = "cancelled" if job.cancel_requested else ("done" if code == 0 else "failed")
        return PollResult(state=state, exit_code=code, ended_at=time.time())

    def cancel(self, job: Job) -> None:
        if job.container_id:
            self.client().containers.get(job.container_id).stop(timeout=15)
