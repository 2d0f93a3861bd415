"""Run a job on a Ray cluster through Ray's Job Submission API (``--backend ray``).

The job's command is the same trainer CLI on the same spec. It is submitted with the job's id as Ray's submission
id, the resources its spec asks for (GPUs from ``num_gpus``, CPUs for the trainer and its data loader workers,
memory when ``TAO_SKILL_RAY_MEMORY_GB`` is set) and a runtime environment whose working directory carries the
spec and ``job.json``; on the node :mod:`tao_skill.launchers._remote_job` stages the data, runs the trainer and
mirrors its results to ``s3://`` (``TAO_SKILL_RESULTS_URI``) or writes them into a shared folder.

Ray is imported only to submit (its client uploads the working directory); state, logs and stop go over the
dashboard's HTTP API. Local data and model files are refused unless they lie in a folder declared shared
(``TAO_SKILL_SHARED_PATHS``): they are on this machine, not on the node that will run the job.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tao_skill import cluster, s3_files
from tao_skill import overrides as ov
from tao_skill.errors import Issue, RuntimeFailure, UserError
from tao_skill.launchers._base import EXIT_NAME, LOG_NAME, Launcher, LaunchHandle, PollResult
from tao_skill.models import ClusterRecord, Job
from tao_skill.preflight import Check, extra_check, install_command

if TYPE_CHECKING:
    from tao_skill.skill import Skill
    from tao_skill.store import JobStore

__all__ = ["RayLauncher", "job_resources", "cluster_check", "PASSED_ENV", "STOP_WAIT_SECONDS"]

#: Settings passed to the job's environment on the node: where S3 is (never credentials: nodes use their own).
PASSED_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION")
#: How long Ray waits after SIGTERM before SIGKILL: the trainer ends its step and the last files are uploaded.
STOP_WAIT_SECONDS = 30
_STATES = {"PENDING": "queued", "RUNNING": "running", "SUCCEEDED": "done", "FAILED": "failed", "STOPPED": "cancelled"}


def _gpus(spec: dict[str, Any], skill: Skill, action: str) -> float:
    """GPUs the action's spec asks for: the skill's GPU key for training, else ``<action>.num_gpus``/``gpu_ids``."""
    section = spec.get(action) if isinstance(spec.get(action), dict) else {}
    key = skill.info.gpu_spec_key if action == "train" and skill.info.gpu_spec_key else f"{action}.num_gpus"
    value = ov.get_dotted(spec, key)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(section.get("gpu_ids"), list):
        return float(len(section["gpu_ids"]))
    return 1.0


def job_resources(
    spec: dict[str, Any], skill: Skill, action: str, facts: cluster.ClusterFacts | None
) -> tuple[dict[str, float], list[str]]:
    """(Ray resources for the job's entrypoint, notes on what was adjusted to fit the cluster): GPUs from the spec,
    a CPU for the trainer and one per data loader worker (the key the contract names as ``loader_workers_key``)."""
    notes: list[str] = []
    gpus = _gpus(spec, skill, action)
    loader_workers_key = skill.info.runtime.dataset.loader_workers_key
    workers = ov.get_dotted(spec, loader_workers_key) if loader_workers_key else None
    cpus = 1.0 + (float(workers) if isinstance(workers, int) and workers > 0 else 0.0)
    if facts is not None:
        if gpus and not facts.gpus_total:
            notes.append(f"the cluster has no GPUs: the job runs on CPUs (the spec asks for {gpus:g} GPU(s))")
            gpus = 0.0
        largest = facts.largest("CPU")
        if largest and cpus > largest:
            notes.append(f"{cpus:g} CPUs asked (trainer + data loader workers), the largest node has {largest:g}")
            cpus = largest
    resources = {"num_cpus": cpus, "num_gpus": gpus}
    memory = os.environ.get("TAO_SKILL_RAY_MEMORY_GB")
    if memory:
        resources["memory"] = float(memory) * 1024**3
    return resources, notes


def cluster_check() -> Check:
    """Whether a Ray cluster answers at ``RAY_ADDRESS`` (its version and live nodes when it does)."""
    try:
        address = cluster.ray_address() or ""
        facts = cluster.cluster_facts(address)
    except UserError as exc:
        issue = exc.issues[0] if exc.issues else None
        return Check(name="ray_cluster", ok=False, detail=exc.message, fix=issue.hint if issue else "")
    nodes = facts.alive_nodes
    return Check(
        name="ray_cluster",
        ok=bool(nodes),
        detail=f"Ray {facts.ray_version} at {facts.address}: {len(nodes)} live node(s), {facts.gpus_total:g} GPU(s)",
        fix="" if nodes else "start a node: ray start --address HEAD:6379",
    )


class RayLauncher(Launcher):
    """Ray Job Submission backend; results on S3 (or a shared folder), logs and state from the cluster."""

    name = "ray"
    stages_on_worker = True

    def __init__(self, address: str | None = None) -> None:
        self._address = address

    @property
    def address(self) -> str:
        return cluster.ray_address(self._address) or ""

    # ------------------------------------------------------------------------------------------------ planning
    @classmethod
    def results_dir_for(cls, store: JobStore, job_id: str) -> str:
        uri = cluster.results_uri()
        return s3_files.join(uri, job_id) if uri else str(store.results_dir(job_id))

    @classmethod
    def adapt_spec(
        cls, spec: dict[str, Any], skill: Skill, action: str
    ) -> tuple[dict[str, Any], list[Issue], list[str]]:
        """Refuse local files the nodes cannot see: data, model inputs and results outside a shared folder."""
        issues: list[Issue] = []
        keys = {k: "data source" for k in skill.info.data_sources.get(action, {})}
        keys.update({k: f"{io.type} input" for k, io in skill.action(action).inputs.items() if k not in keys})
        for key, what in keys.items():
            value = ov.get_dotted(spec, key)
            for item in value if isinstance(value, list) else [value]:
                if (
                    isinstance(item, str)
                    and item
                    and item != ov.MISSING
                    and not s3_files.is_s3(item)
                    and not cluster.is_shared(item)
                ):
                    issues.append(
                        Issue(
                            path=key,
                            value=item,
                            rule="local_path_on_cluster",
                            message=f"{key}: the {what} {item} is on this machine, not on the cluster's nodes",
                            hint="upload it to s3:// and pass that, or declare its folder shared by every node "
                            f"({cluster.SHARED_PATHS_ENV}=/mnt/shared)",
                        )
                    )
        results = spec.get("results_dir")
        if isinstance(results, str) and not s3_files.is_s3(results) and not cluster.is_shared(results):
            issues.append(
                Issue(
                    path="results_dir",
                    value=results,
                    rule="local_path_on_cluster",
                    message="cluster jobs write their results to s3:// or a folder every node shares",
                    hint=f"pass --results-uri s3://bucket/prefix (or set {cluster.RESULTS_URI_ENV}), or declare "
                    f"TAO_SKILL_HOME's results folder shared ({cluster.SHARED_PATHS_ENV})",
                )
            )
        return spec, issues, []

    @classmethod
    def preflight(cls, action: str, spec: dict[str, Any]) -> list[Check]:
        """Ray's job client here, boto3 for s3:// results, and a cluster that answers at the address."""
        checks = [extra_check("ray", "--backend ray")]
        if s3_files.is_s3(spec.get("results_dir")):
            checks.append(extra_check("s3", "s3:// results"))
        return [*checks, cluster_check()]

    # ------------------------------------------------------------------------------------------------ launching
    def check(self, plan_action: str | None = None) -> None:
        cluster.Dashboard(self.address).version()

    def prepare(self, skill: Skill, action: str, spec: dict[str, Any], store: JobStore) -> ClusterRecord:
        facts = cluster.cluster_facts(self.address)
        if not facts.alive_nodes:
            raise UserError.single(
                "ray_address", f"the Ray cluster at {facts.address} has no live node", rule="ray_no_nodes"
            )
        resources, _ = job_resources(spec, skill, action, facts)
        return ClusterRecord(address=facts.address, resources=resources)

    def job_folder(self, job: Job, store: JobStore) -> Path:
        return store.results_dir(job.id) if s3_files.is_s3(job.results_dir) else Path(job.results_dir)

    def launch(
        self,
        job: Job,
        spec_path: Path,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cleanup: list[Path] | None = None,
    ) -> LaunchHandle:
        from tao_skill.launchers._remote_job import PAYLOAD_NAME, SPEC_PLACEHOLDER
        from tao_skill.skill import load_skill

        record = job.cluster or ClusterRecord(address=self.address)
        folder = spec_path.parent
        secret = next((p for p in cleanup or [] if p.parent == folder), None)
        spec_names = {str(spec_path), s3_files.join(job.results_dir, spec_path.name)}
        if secret is not None:
            spec_names.add(str(secret))
        sk = load_skill(job.skill)
        data_sources = dict(job.plan.data_sources) if job.plan else {}
        staging: dict[str, list[str]] = {}
        for key, binding in sk.info.data_sources.get(job.action, {}).items():
            if binding.source in data_sources:
                staging.setdefault(binding.source, []).append(key)
        payload = {
            "job_id": job.id,
            "skill": job.skill,
            "action": job.action,
            "results_dir": job.results_dir,
            "spec": (secret or spec_path).name,
            "record_spec": spec_path.name,
            "command": [SPEC_PLACEHOLDER if part in spec_names else part for part in command],
            "data_sources": data_sources,
            "staging": staging,
            "inputs": {k: io.type for k, io in sk.action(job.action).inputs.items()},
        }
        (folder / PAYLOAD_NAME).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        python = os.environ.get("TAO_SKILL_RAY_PYTHON", "python")
        env_vars = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
        env_vars.update(env or {})
        env_vars.update({"TAO_SKILL_JOB_ID": job.id, "RAY_JOB_STOP_WAIT_TIME_S": str(STOP_WAIT_SECONDS)})
        env_vars["PYTHONUNBUFFERED"] = "1"  # the job log gets each line when it is printed
        resources = dict(record.resources)
        kwargs: dict[str, Any] = {
            "entrypoint_num_cpus": resources.pop("num_cpus", 1.0),
            "entrypoint_num_gpus": resources.pop("num_gpus", 0.0) or None,
        }
        if "memory" in resources:
            kwargs["entrypoint_memory"] = int(resources.pop("memory"))
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise UserError.single(
                "backend",
                "the ray backend needs Ray's job client",
                rule="dependency",
                hint=install_command(["ray"]),
            ) from None
        try:
            client = JobSubmissionClient(record.address)
            client.submit_job(
                entrypoint=f"{shlex.quote(python)} -m tao_skill.launchers._remote_job {PAYLOAD_NAME}",
                submission_id=job.id,
                runtime_env={"working_dir": str(folder), "env_vars": env_vars},
                metadata={"tao-skill.job": job.id, "tao-skill.action": job.action, "tao-skill.skill": job.skill},
                **kwargs,
            )
        except (ConnectionError, urllib.error.URLError) as exc:
            raise cluster.Dashboard(record.address).unreachable(exc) from None
        except RuntimeError as exc:
            raise RuntimeFailure(f"Ray refused job {job.id}: {str(exc).splitlines()[0][:300]}") from None
        finally:
            for path in cleanup or []:
                path.unlink(missing_ok=True)  # a spec holding a secret travelled in the job's package; not kept here
        return LaunchHandle()

    # ------------------------------------------------------------------------------------------------ following
    def _info(self, job: Job) -> dict[str, Any] | None:
        """Ray's record of the job, or None when the cluster does not answer or no longer knows it."""
        address = job.cluster.address if job.cluster else self.address
        try:
            answer = cluster.Dashboard(address).get(f"/api/jobs/{job.id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        except (OSError, urllib.error.URLError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    def _exit_record(self, job: Job) -> dict[str, Any] | None:
        path = s3_files.join(job.results_dir, EXIT_NAME)
        try:
            text = s3_files.read_text(path) if s3_files.is_s3(path) else Path(path).read_text(encoding="utf-8")
        except (OSError, UserError, RuntimeFailure):
            return None
        try:
            record = json.loads(text) if text else None
        except json.JSONDecodeError:
            return None
        return record if isinstance(record, dict) else None

    def poll(self, job: Job) -> PollResult:
        info = self._info(job)
        if info is None:
            record = self._exit_record(job)
            if record is None:
                return PollResult(state=job.state, message="the Ray cluster does not answer or no longer knows it")
            return self._ended(job, int(record.get("exit_code", 1)), record.get("ended_at"), bool(record.get("signal")))
        state = _STATES.get(str(info.get("status")), job.state)
        if state in ("queued", "running"):
            return PollResult(state=state)
        record = self._exit_record(job) or {}
        code = record.get("exit_code", info.get("driver_exit_code"))
        ended = record.get("ended_at") or (info.get("end_time") or 0) / 1000.0 or time.time()
        if state == "cancelled":
            return PollResult(state="cancelled", exit_code=code, ended_at=ended)
        result = self._ended(job, int(code) if code is not None else (0 if state == "done" else 1), ended, False)
        if result.state == "failed" and not record:
            result.message = f"Ray: {str(info.get('message') or '').splitlines()[0][:300]}"
        return result

    @staticmethod
    def _ended(job: Job, code: int, ended_at: float | None, signalled: bool) -> PollResult:
        if job.cancel_requested or signalled:
            state = "cancelled"
        else:
            state = "done" if code == 0 else "failed"
        return PollResult(state=state, exit_code=code, ended_at=ended_at)

    def cancel(self, job: Job) -> None:
        address = job.cluster.address if job.cluster else self.address
        try:
            cluster.Dashboard(address).request("POST", f"/api/jobs/{job.id}/stop")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise RuntimeFailure(f"Ray could not stop job {job.id}: HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise cluster.Dashboard(address).unreachable(exc) from None

    def read_log(self, job: Job) -> str | None:
        """The cluster's log of the job while it knows it; else the ``job.log`` uploaded with the results."""
        address = job.cluster.address if job.cluster else self.address
        try:
            answer = cluster.Dashboard(address).get(f"/api/jobs/{job.id}/logs")
            if isinstance(answer, dict) and isinstance(answer.get("logs"), str):
                return answer["logs"]
        except (OSError, urllib.error.URLError, ValueError):
            pass
        path = s3_files.join(job.results_dir, LOG_NAME)
        try:
            return s3_files.read_text(path) if s3_files.is_s3(path) else Path(path).read_text(encoding="utf-8")
        except (OSError, UserError, RuntimeFailure):
            return None
