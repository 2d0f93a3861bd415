"""Mirror a job's local results folder to ``s3://bucket/prefix`` while it runs, so readers never see half a result.

The trainer keeps writing plain local files (checkpoints by atomic rename, status.json lines, a relative
``*_latest.pth`` symlink). Every ``interval`` seconds the syncer uploads, in this order:

1. finished files: a new or changed file once it has stayed the same size and mtime for one scan (a checkpoint
   appears whole through its rename, so it is uploaded on the next scan); S3 shows an object only when complete;
2. live files (``status.json``, ``job.log``): their whole current text, after the files their lines talk about;
3. pointers, last: a symlink becomes a server-side copy of its already uploaded target, carrying the target's name
   in the object's metadata (``tao-skill-target``); the best-checkpoints index after the files, with the local
   paths it names made relative;
4. deletions of files the trainer removed (a replaced periodic checkpoint), after the pointers moved away.

So a latest-checkpoint link on S3 is always a complete copy of a checkpoint that is itself there. Stdlib + boto3.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tao_skill import s3_files

__all__ = ["ResultsSyncer", "SyncReport", "LIVE_NAMES", "INDEX_NAMES"]

#: Files rewritten or appended in place while the job runs: uploaded whole at every change.
LIVE_NAMES = frozenset({"status.json", "job.log"})
#: Files that name other files: uploaded after the files of the same scan.
INDEX_NAMES = frozenset({"best_checkpoints.json"})


def _skipped(rel: str) -> bool:
    """Temporary files of atomic writers (``.name.tmp``, ``*.part``) and hidden files are never uploaded."""
    parts = rel.split("/")
    return any(p.startswith(".") for p in parts) or rel.endswith((".tmp", ".part"))


@dataclass
class SyncReport:
    """What one pass uploaded, pointed and deleted (relative names)."""

    uploaded: list[str] = field(default_factory=list)
    pointed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


class ResultsSyncer:
    """Uploads ``folder`` to ``uri`` in the background (:meth:`start`/:meth:`stop`) or pass by pass (:meth:`sync`)."""

    def __init__(
        self, folder: str | os.PathLike[str], uri: str, *, interval: float = 2.0, log: Callable[[str], None] = print
    ) -> None:
        self.folder = Path(folder)
        self.uri = uri.rstrip("/")
        self.interval = interval
        self.log = log
        self._uploaded: dict[str, tuple[int, int]] = {}
        self._pointers: dict[str, str] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.errors = 0

    # ------------------------------------------------------------------------------------------------ scanning
    def _scan(self) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
        """(regular files -> (size, mtime_ns), symlinks -> target relative to the folder)."""
        files: dict[str, tuple[int, int]] = {}
        links: dict[str, str] = {}
        root = self.folder
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if _skipped(rel):
                    continue
                try:
                    if path.is_symlink():
                        target = path.resolve()
                        if target.is_relative_to(root.resolve()):
                            links[rel] = target.relative_to(root.resolve()).as_posix()
                        continue
                    stat = path.stat()
                except OSError:
                    continue  # removed while scanning
                files[rel] = (stat.st_size, stat.st_mtime_ns)
        return files, links

    def _relative_index(self, rel: str) -> bytes:
        """An index file with the paths it names under this folder made relative to the index (the node's local
        folder means nothing to a reader of the S3 copy)."""
        path = self.folder / rel
        raw = path.read_bytes()
        try:
            data = json.loads(raw)
        except ValueError:
            return raw
        base = path.parent.resolve()

        def relative(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: relative(v) for k, v in value.items()}
            if isinstance(value, list):
                return [relative(v) for v in value]
            if isinstance(value, str) and os.path.isabs(value) and Path(value).resolve().is_relative_to(base):
                return Path(value).resolve().relative_to(base).as_posix()
            return value

        return json.dumps(relative(data), indent=2).encode()

    # ------------------------------------------------------------------------------------------------ one pass
    def sync(self, final: bool = False) -> SyncReport:
        """One pass; ``final`` uploads every file whether or not it has settled (the writer has exited)."""
        with self._lock:
            return self._sync(final)

    def _sync(self, final: bool) -> SyncReport:
        report = SyncReport()
        files, links = self._scan()
        live = {r: s for r, s in files.items() if Path(r).name in LIVE_NAMES | INDEX_NAMES}
        for rel, sig in sorted(files.items()):
            if rel in live or self._uploaded.get(rel) == sig:
                continue
            if final or self._seen.get(rel) == sig:
                s3_files.upload_file(self.folder / rel, s3_files.join(self.uri, rel))
                self._uploaded[rel] = sig
                report.uploaded.append(rel)
            else:
                report.pending.append(rel)
        self._seen = files
        for rel, sig in sorted(live.items(), key=lambda item: Path(item[0]).name in INDEX_NAMES):
            if self._uploaded.get(rel) != sig:
                if Path(rel).name in INDEX_NAMES:
                    s3_files.put_bytes(s3_files.join(self.uri, rel), self._relative_index(rel))
                else:
                    s3_files.upload_file(self.folder / rel, s3_files.join(self.uri, rel))
                self._uploaded[rel] = sig
                report.uploaded.append(rel)
        for rel, target in sorted(links.items()):
            if self._pointers.get(rel) == target:
                continue
            if target not in self._uploaded or self._uploaded[target] != files.get(target):
                report.pending.append(rel)  # its target is not up yet: the pointer waits for it
                continue
            name = os.path.relpath(target, start=os.path.dirname(rel) or ".")
            s3_files.copy(
                s3_files.join(self.uri, target), s3_files.join(self.uri, rel), metadata={s3_files.POINTER_META: name}
            )
            self._pointers[rel] = target
            report.pointed.append(rel)
        for rel in sorted(set(self._uploaded) - set(files)):
            if rel in self._pointers.values():
                continue  # a pointer still copies it; deleting is safe only once the pointer moved on
            s3_files.delete(s3_files.join(self.uri, rel))
            del self._uploaded[rel]
            report.deleted.append(rel)
        return report

    # ------------------------------------------------------------------------------------------------ background
    def start(self) -> ResultsSyncer:
        self._thread = threading.Thread(target=self._run, name="results-sync", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - a failed pass is retried on the next one
                self.errors += 1
                self.log(f"[tao-skill] results upload to {self.uri} failed, retrying: {type(exc).__name__}: {exc}")

    def stop(self, final: bool = True) -> SyncReport | None:
        """Stop the background passes; ``final`` runs one last complete pass (raises if it fails)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.sync(final=True) if final else None
