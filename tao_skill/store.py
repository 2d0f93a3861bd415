"""Job records in SQLite under ``$TAO_SKILL_HOME/jobs.db``: WAL, a busy timeout, one short transaction per call.

Safe for several processes at once (two ``tao-skill run`` in parallel, AutoML workers, the MCP server). A damaged
database is a :class:`RuntimeFailure` saying what to do (never a raw ``sqlite3`` error); one unreadable row is
skipped with a warning when listing, so it never hides the other jobs.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.home import results_root, skill_home
from tao_skill.models import Job

__all__ = ["JobStore", "new_job_id"]

_log = logging.getLogger(__name__)

_SCALAR_COLUMNS = (
    "id", "skill", "action", "kind", "parent_id", "group_id", "state", "backend", "results_dir",
    "created_at", "started_at", "ended_at", "exit_code", "pid", "container_id",
    "cancel_requested", "best_child_id", "interrupted", "error",
)  # fmt: skip
#: Typed parts of a job stored as JSON: the spec and the sub-models of :class:`~tao_skill.models.Job`.
_JSON_COLUMNS = ("spec", "progress", "plan", "container", "study", "trial", "cluster")
_COLUMNS = _SCALAR_COLUMNS + _JSON_COLUMNS
_COLUMN_TYPES = {
    "created_at": "REAL NOT NULL DEFAULT 0", "started_at": "REAL", "ended_at": "REAL", "exit_code": "INTEGER",
    "pid": "INTEGER", "cancel_requested": "INTEGER NOT NULL DEFAULT 0", "interrupted": "INTEGER NOT NULL DEFAULT 0",
    "spec": "TEXT NOT NULL DEFAULT '{}'",
}  # fmt: skip
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    skill TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'job',
    parent_id TEXT,
    group_id TEXT,
    state TEXT NOT NULL,
    backend TEXT NOT NULL,
    results_dir TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    pid INTEGER,
    container_id TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    best_child_id TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    spec TEXT NOT NULL DEFAULT '{}',
    progress TEXT,
    plan TEXT,
    container TEXT,
    study TEXT,
    trial TEXT,
    cluster TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_group ON jobs(group_id);
"""


def new_job_id(action: str = "job") -> str:
    """A short unique id that says what the job does, e.g. ``train-3f9a1c2b7d01``."""
    return f"{action.replace('_', '-')}-{uuid.uuid4().hex[:12]}"


class JobStore:
    """Create, update, read and list jobs."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = skill_home(home)
        self.path = self.home / "jobs.db"
        self._ready = False

    @property
    def results_root(self) -> Path:
        return results_root(self.home)

    def results_dir(self, job_id: str) -> Path:
        return self.results_root / job_id

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout=30000")
                if not self._ready:
                    self._initialise(conn)
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    def _unusable(self, exc: sqlite3.DatabaseError) -> RuntimeFailure:
        if isinstance(exc, sqlite3.OperationalError):
            return RuntimeFailure(
                f"the job store {self.path} cannot be used ({exc}); check that its folder is writable and not on a "
                "network file system, then try again"
            )
        return RuntimeFailure(
            f"the job store {self.path} is damaged or not a job store ({exc}). Move it aside (mv {self.path} "
            f"{self.path}.broken) to start a new one; the results folders under {self.results_root} are kept"
        )

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and create the table once, serialised across processes by a file lock: SQLite answers
        "database is locked" at once (no busy wait) when two processes change the journal mode of a new database
        together."""
        import fcntl

        with open(self.home / "jobs.db.init-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                _migrate(conn)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._ready = True

    def _row_to_job(self, row: sqlite3.Row | tuple[Any, ...]) -> Job:
        data = dict(zip(_COLUMNS, row, strict=True))
        try:
            for key in _JSON_COLUMNS:
                data[key] = json.loads(data[key]) if data[key] else ({} if key == "spec" else None)
            return Job.model_validate(data)
        except (ValueError, TypeError, ValidationError) as exc:  # JSONDecodeError and pydantic's are ValueErrors
            reason = str(exc).splitlines()[0][:200]
            raise RuntimeFailure(
                f"the record of job {data.get('id')} in {self.path} is unreadable ({reason}); the other jobs are fine. "
                "Its results folder is kept; delete the record with: sqlite3 "
                f"{self.path} \"DELETE FROM jobs WHERE id = '{data.get('id')}'\""
            ) from None

    def create(
        self,
        *,
        skill: str,
        action: str,
        spec: dict[str, Any],
        backend: str = "local",
        kind: str = "job",
        parent_id: str | None = None,
        group_id: str | None = None,
        job_id: str | None = None,
        results_dir: str | None = None,
        state: str = "queued",
        **parts: Any,
    ) -> Job:
        """Record a new job (spec must already be redacted); ``parts`` are the typed sub-models (plan, study...)."""
        job_id = job_id or new_job_id(action)
        job = Job.model_validate(
            {
                "id": job_id,
                "skill": skill,
                "action": action,
                "kind": kind,
                "parent_id": parent_id,
                "group_id": group_id,
                "state": state,
                "backend": backend,
                "results_dir": results_dir or str(self.results_dir(job_id)),
                "spec": spec,
                "created_at": time.time(),
                **{k: _plain(v) for k, v in parts.items()},
            }
        )
        values = [self._encode(k, getattr(job, k)) for k in _COLUMNS]
        with self._connect(write=True) as conn:
            try:
                conn.execute(
                    f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
                )
            except sqlite3.IntegrityError:
                raise UserError.single("job_id", f"job id {job_id} already exists", rule="unique_job_id") from None
        return job

    @staticmethod
    def _encode(key: str, value: Any) -> Any:
        if key not in _JSON_COLUMNS:
            return int(value) if isinstance(value, bool) else value
        if value is None:
            return "{}" if key == "spec" else None
        return json.dumps(_plain(value), sort_keys=True, default=str)

    def update(self, job_id: str, **fields: Any) -> Job:
        """Set fields of a job in one transaction. A sub-model given as a dict (``study={"best_value": 0.9}``) is
        merged key by key into the stored one; given as a model it replaces it; None clears it."""
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job field(s): {', '.join(sorted(unknown))}")
        with self._connect(write=True) as conn:
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise self._missing(job_id)
            current = self._row_to_job(row)
            for key, value in list(fields.items()):
                stored = getattr(current, key)
                if key in _JSON_COLUMNS and key != "spec" and isinstance(value, dict) and stored is not None:
                    fields[key] = {**stored.model_dump(mode="json"), **value}
            updated = Job.model_validate({**current.model_dump(), **{k: _plain(v) for k, v in fields.items()}})
            if fields:
                assignments = ", ".join(f"{k} = ?" for k in fields)
                conn.execute(
                    f"UPDATE jobs SET {assignments} WHERE id = ?",
                    [self._encode(k, getattr(updated, k)) for k in fields] + [job_id],
                )
        return updated

    def get(self, job_id: str) -> Job:
        """The job, or a UserError naming the id (with close ids as hints)."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise self._missing(job_id)
        return self._row_to_job(row)

    def _missing(self, job_id: str) -> UserError:
        from tao_skill._suggest import did_you_mean

        known = [j.id for j in self.list(limit=200)] if self.path.exists() else []
        return UserError.single(
            "job_id",
            f"no job '{job_id}' in {self.path}",
            rule="unknown_job",
            value=job_id,
            hint=did_you_mean(job_id, known) or "list jobs with `tao-skill jobs`",
        )

    def list(self, limit: int | None = None, **filters: Any) -> list[Job]:
        """Jobs, newest first, filtered by equality on any column (``state="running"``, ``group_id=...``)."""
        unknown = set(filters) - set(_COLUMNS)
        if unknown:
            raise UserError.single(
                "filters",
                f"unknown job filter(s): {', '.join(sorted(unknown))}",
                rule="unknown_filter",
                hint=f"filter on: {', '.join(_COLUMNS)}",
            )
        where = [f"{k} = ?" for k, v in filters.items() if v is not None]
        params = [v for v in filters.values() if v is not None]
        sql = f"SELECT {', '.join(_COLUMNS)} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        found = []
        for row in rows:
            try:
                found.append(self._row_to_job(row))
            except RuntimeFailure as exc:
                _log.warning("skipped: %s", exc)
        return found


def _plain(value: Any) -> Any:
    """A sub-model as JSON-ready data (models are dumped; anything else is left as is)."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a job store written by an earlier version up to date: add missing columns, and move the old untyped
    ``extra`` column's keys into the typed fields."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    for column in _COLUMNS:
        if column not in have:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {_COLUMN_TYPES.get(column, 'TEXT')}")
    if "extra" not in have:
        return
    rows = conn.execute("SELECT id, kind, extra FROM jobs WHERE extra IS NOT NULL AND extra != '{}'").fetchall()
    for job_id, kind, raw in rows:
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError:
            extra = {}
        fields = _legacy_fields(extra if isinstance(extra, dict) else {}, kind)
        assignments = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()]
        sql = f"UPDATE jobs SET {assignments + ', ' if assignments else ''}extra = '{{}}' WHERE id = ?"
        conn.execute(sql, [*values, job_id])


_LEGACY_PLAN = ("provenance", "automl", "parent", "command", "data_sources", "warnings", "dropped_extension_keys")
_LEGACY_STUDY = (
    "settings", "metric", "direction", "storage", "search_space", "joined", "best_value", "best_trial",
    "best_params", "best_host", "trial_counts", "resumed_at",
)  # fmt: skip


def _legacy_fields(extra: dict[str, Any], kind: str) -> dict[str, Any]:
    """Typed column values from an earlier version's ``extra`` dict."""
    fields: dict[str, Any] = {}
    for key in ("cancel_requested", "interrupted", "error"):
        if key in extra:
            fields[key] = extra[key]
    if extra.get("best_child_job_id"):
        fields["best_child_id"] = extra["best_child_job_id"]
    if isinstance(extra.get("progress"), dict):
        fields["progress"] = extra["progress"]
    plan = {k: extra[k] for k in _LEGACY_PLAN if extra.get(k) is not None}
    if plan and kind != "automl":
        fields["plan"] = plan
    if extra.get("image"):
        fields["container"] = {"image": extra["image"], "image_kind": extra.get("image_kind", ""),
                               "mounts": extra.get("mounts", [])}  # fmt: skip
    if kind == "automl":
        study = {k: extra[k] for k in _LEGACY_STUDY if extra.get(k) is not None}
        fields["study"] = study
        if plan:
            fields["plan"] = plan
    if kind == "trial" and "trial_number" in extra:
        fields["trial"] = {"study": extra.get("study", ""), "number": extra["trial_number"],
                           "params": extra.get("params") or {}, "pruned": bool(extra.get("pruned")),
                           "pruned_at_epoch": extra.get("pruned_at_epoch")}  # fmt: skip
    return fields
