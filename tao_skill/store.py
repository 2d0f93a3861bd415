"""Job records in SQLite under ``$TAO_SKILL_HOME/jobs.db``: WAL, a busy timeout, one short transaction per call.

Safe for several processes at once (two ``tao-skill run`` in parallel, AutoML workers, the MCP server).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tao_skill.errors import UserError
from tao_skill.home import results_root, skill_home
from tao_skill.models import Job

__all__ = ["JobStore", "new_job_id"]

_COLUMNS = (
    "id", "skill", "action", "kind", "parent_id", "group_id", "state", "backend", "results_dir", "spec",
    "created_at", "started_at", "ended_at", "exit_code", "pid", "container_id", "extra",
)  # fmt: skip
_JSON_COLUMNS = {"spec", "extra"}
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
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    pid INTEGER,
    container_id TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
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
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._ready = True

    @staticmethod
    def _row_to_job(row: sqlite3.Row | tuple[Any, ...]) -> Job:
        data = dict(zip(_COLUMNS, row, strict=True))
        for key in _JSON_COLUMNS:
            data[key] = json.loads(data[key] or "{}")
        return Job.model_validate(data)

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
        extra: dict[str, Any] | None = None,
    ) -> Job:
        """Record a new job (spec must already be redacted)."""
        job_id = job_id or new_job_id(action)
        job = Job(
            id=job_id,
            skill=skill,
            action=action,
            kind=kind,  # type: ignore[arg-type]
            parent_id=parent_id,
            group_id=group_id,
            state=state,  # type: ignore[arg-type]
            backend=backend,
            results_dir=results_dir or str(self.results_dir(job_id)),
            spec=spec,
            created_at=time.time(),
            extra=extra or {},
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
        return json.dumps(value, sort_keys=True, default=str) if key in _JSON_COLUMNS else value

    def update(self, job_id: str, **fields: Any) -> Job:
        """Set fields of a job; ``extra`` is merged key by key with what is stored."""
        unknown = set(fields) - set(_COLUMNS) - {"extra"}
        if unknown:
            raise ValueError(f"unknown job field(s): {', '.join(sorted(unknown))}")
        with self._connect(write=True) as conn:
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise self._missing(job_id)
            if "extra" in fields:
                merged = json.loads(row[_COLUMNS.index("extra")] or "{}")
                merged.update(fields["extra"] or {})
                fields["extra"] = merged
            if fields:
                assignments = ", ".join(f"{k} = ?" for k in fields)
                conn.execute(
                    f"UPDATE jobs SET {assignments} WHERE id = ?",
                    [self._encode(k, v) for k, v in fields.items()] + [job_id],
                )
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row_to_job(row)

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
        return [self._row_to_job(r) for r in rows]
