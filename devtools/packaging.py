"""Release artefacts: a versioned, reproducible skill-bank archive, plugin manifests and the wheel.

``python -m devtools.packaging --out dist`` (``make package``) writes into ``dist/``:

- ``tao-skill-bank-skills-<version>.tar.gz``: ``skills/`` plus ``MANIFEST.json`` (sha256 and size of every file);
  members sorted, mtimes fixed, uid/gid 0, no user names, gzip header without name or time, so the same sources give
  the same bytes;
- ``plugin/``: an installable plugin folder (``.claude-plugin/plugin.json``, ``.codex-plugin/plugin.json``,
  ``.mcp.json`` and ``skills/``) for Claude Code and Codex;
- ``tao_skill_bank-<version>-py3-none-any.whl``: ``pip wheel . --no-deps``, with ``skills/`` bundled inside the
  ``runtime`` package as ``tao_skill/_skills`` (where an installed runtime looks for the bank, see
  :func:`tao_skill.home.skills_root`) and rewritten with sorted members and fixed times.

The plugin manifests are also committed under ``devtools/plugins/`` and ``--check`` exits 1 when they drift from the
metadata they are generated from (pyproject.toml and each skill's SKILL.md frontmatter).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tao_skill._files import atomic_open

__all__ = [
    "FIXED_MTIME",
    "project_metadata",
    "skill_files",
    "file_manifest",
    "build_skill_archive",
    "plugin_manifests",
    "write_plugin_folder",
    "build_wheel",
    "check_manifests",
    "main",
]

REPO = Path(__file__).resolve().parents[1]
PLUGINS_DIR = Path(__file__).resolve().parent / "plugins"
#: 1980-01-01 UTC: the earliest time a zip entry can hold; used for every archive member.
FIXED_MTIME = 315532800
_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".DS_Store"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".tmp")
_PACKAGES = ("tao_skill", "optical_inspection")
MCP_SERVER = {"command": "tao-skill", "args": ["mcp"]}


class PackagingError(Exception):
    """A release input is missing or malformed (exit code 2)."""


# ------------------------------------------------------------------------------------------------ metadata
def project_metadata(root: Path = REPO) -> dict[str, Any]:
    """name, version, description, license and the skills (name, description) of the project at ``root``."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise PackagingError(f"{pyproject} not found: run from the project checkout")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    skills = []
    for skill_md in sorted((root / "skills").glob("*/SKILL.md")):
        text = skill_md.read_text(encoding="utf-8")
        if not text.startswith("---\n") or "\n---\n" not in text[4:]:
            raise PackagingError(f"{skill_md}: no YAML frontmatter (--- ... ---)")
        front = yaml.safe_load(text[4:].split("\n---\n", 1)[0]) or {}
        if front.get("name") != skill_md.parent.name or not front.get("description"):
            raise PackagingError(f"{skill_md}: frontmatter needs name: {skill_md.parent.name} and a description")
        skills.append({"name": front["name"], "description": " ".join(str(front["description"]).split())})
    license_ = project.get("license")
    return {
        "name": project["name"],
        "version": project["version"],
        "description": project.get("description", ""),
        "license": license_ if isinstance(license_, str) else (license_ or {}).get("text", ""),
        "skills": skills,
    }


def _kept(path: Path) -> bool:
    return not (set(path.parts) & _SKIP_NAMES) and not path.name.endswith(_SKIP_SUFFIXES)


def skill_files(root: Path = REPO) -> list[Path]:
    """Every file of the skill bank, relative to ``root`` and sorted (caches and bytecode left out)."""
    base = root / "skills"
    if not base.is_dir():
        raise PackagingError(f"{base} not found")
    return sorted(p.relative_to(root) for p in base.rglob("*") if p.is_file() and _kept(p.relative_to(root)))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_manifest(root: Path, files: list[Path], meta: dict[str, Any]) -> dict[str, Any]:
    """The archive's MANIFEST.json: project, version, skills and the sha256/size of each file."""
    entries = {}
    for rel in files:
        data = (root / rel).read_bytes()
        entries[rel.as_posix()] = {"sha256": _sha256(data), "size": len(data)}
    return {
        "name": f"{meta['name']}-skills",
        "version": meta["version"],
        "skills": [s["name"] for s in meta["skills"]],
        "files": entries,
    }


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------------ archive
def _tar_member(name: str, data: bytes, executable: bool = False) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = FIXED_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def build_skill_archive(out_dir: Path, root: Path = REPO) -> Path:
    """Write ``<name>-skills-<version>.tar.gz`` (skills/ + MANIFEST.json) reproducibly; returns its path."""
    meta = project_metadata(root)
    files = skill_files(root)
    stem = f"{meta['name']}-skills-{meta['version']}"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{stem}.tar.gz"
    members = [(f"{stem}/MANIFEST.json", _dumps(file_manifest(root, files, meta)), False)]
    members += [
        (f"{stem}/{rel.as_posix()}", (root / rel).read_bytes(), os.access(root / rel, os.X_OK)) for rel in files
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, executable in sorted(members):
            tar.addfile(*_tar_member(name, data, executable))
    with atomic_open(target, "wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz:
        gz.write(raw.getvalue())
    return target


# ------------------------------------------------------------------------------------------------ plugins
def plugin_manifests(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Claude Code (``.claude-plugin/plugin.json``) and Codex (``.codex-plugin/plugin.json``) manifests.

    Both point at the ``skills/`` folder (every skill in it is loaded), so adding a skill needs no manifest change.
    """
    keywords = ["nvidia-tao", "optical-inspection", "aoi", "defect-detection", "siamese", "mcp"]
    author = {"name": "tao-skill-bank contributors"}
    claude = {
        "name": meta["name"],
        "version": meta["version"],
        "description": meta["description"],
        "author": author,
        "license": meta["license"],
        "keywords": keywords,
        "skills": "./skills/",
        "mcpServers": {"tao-skill": MCP_SERVER},
    }
    codex = {
        "name": meta["name"],
        "version": meta["version"],
        "description": meta["description"],
        "author": author,
        "license": meta["license"],
        "keywords": keywords,
        "skills": "./skills/",
        "mcpServers": "./.mcp.json",
        "interface": {
            "displayName": "TAO Skill Bank",
            "shortDescription": meta["description"][:120],
            "category": "Machine Learning",
            "defaultPrompt": ["Train optical inspection on my PCB images", "Evaluate the best checkpoint of my job"],
        },
    }
    return {"claude": claude, "codex": codex, "mcp": {"mcpServers": {"tao-skill": MCP_SERVER}}}


_COMMITTED = {"claude": "claude-plugin.json", "codex": "codex-plugin.json", "mcp": "mcp.json"}
_PLUGIN_PATHS = {"claude": ".claude-plugin/plugin.json", "codex": ".codex-plugin/plugin.json", "mcp": ".mcp.json"}


def write_committed_manifests(root: Path = REPO, folder: Path = PLUGINS_DIR) -> list[Path]:
    """Regenerate the committed copies under ``devtools/plugins/``."""
    manifests = plugin_manifests(project_metadata(root))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key, name in _COMMITTED.items():
        (folder / name).write_bytes(_dumps(manifests[key]))
        written.append(folder / name)
    return written


def check_manifests(root: Path = REPO, folder: Path = PLUGINS_DIR) -> list[str]:
    """Committed manifests that differ from freshly generated ones (empty when in sync)."""
    manifests = plugin_manifests(project_metadata(root))
    drift = []
    for key, name in _COMMITTED.items():
        path = folder / name
        if not path.is_file() or path.read_bytes() != _dumps(manifests[key]):
            drift.append(str(path))
    return drift


def write_plugin_folder(out_dir: Path, root: Path = REPO) -> Path:
    """``<out_dir>/plugin``: manifests for both hosts, the MCP server entry and a copy of the skills."""
    meta = project_metadata(root)
    manifests = plugin_manifests(meta)
    folder = out_dir / "plugin"
    if folder.exists():
        shutil.rmtree(folder)
    for key, rel in _PLUGIN_PATHS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_dumps(manifests[key]))
    for rel in skill_files(root):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
    return folder


# ------------------------------------------------------------------------------------------------ wheel
def _stage_sources(root: Path, stage: Path) -> None:
    for name in ("pyproject.toml", "README.md"):
        if (root / name).is_file():
            shutil.copyfile(root / name, stage / name)
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and _kept(rel):
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, stage / rel)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _rewrite_wheel(wheel: Path, extra: dict[str, bytes]) -> None:
    """Add ``extra`` files, regenerate RECORD, and write members sorted with fixed times and modes."""
    with zipfile.ZipFile(wheel) as zf:
        contents = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    record_name = next(n for n in contents if n.endswith(".dist-info/RECORD"))
    contents.pop(record_name)
    contents.update(extra)
    rows = [(name, _record_hash(data), str(len(data))) for name, data in sorted(contents.items())]
    rows.append((record_name, "", ""))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    contents[record_name] = buffer.getvalue().encode("utf-8")
    dist_info = record_name.rsplit("/", 1)[0]
    ordered = sorted(n for n in contents if not n.startswith(dist_info)) + sorted(
        n for n in contents if n.startswith(dist_info) and n != record_name
    )
    with atomic_open(wheel, "wb") as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in [*ordered, record_name]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, contents[name])


BUNDLED_SKILLS = "tao_skill/_skills"


def build_wheel(out_dir: Path, root: Path = REPO) -> Path:
    """``pip wheel --no-deps`` of a clean copy of the sources, then the skills added and members normalised."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tao-skill-wheel-") as tmp:
        stage, wheels = Path(tmp) / "src", Path(tmp) / "wheels"
        stage.mkdir()
        _stage_sources(root, stage)
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(FIXED_MTIME), PIP_DISABLE_PIP_VERSION_CHECK="1")
        cmd = [sys.executable, "-m", "pip", "wheel", str(stage), "--no-deps", "--no-build-isolation", "-q"]
        proc = subprocess.run([*cmd, "-w", str(wheels)], capture_output=True, text=True, env=env, cwd=tmp)
        if proc.returncode != 0:
            raise PackagingError(f"pip wheel failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
        built = sorted(wheels.glob("*.whl"))
        if len(built) != 1:
            raise PackagingError(f"pip wheel produced {len(built)} wheels in {wheels}")
        # Installed skills live inside the runtime package (tao_skill/_skills), not in a top-level `skills` folder
        # of site-packages that another distribution could also claim.
        extra = {
            f"{BUNDLED_SKILLS}/{rel.relative_to('skills').as_posix()}": (root / rel).read_bytes()
            for rel in skill_files(root)
        }
        _rewrite_wheel(built[0], extra)
        target = out_dir / built[0].name
        shutil.copyfile(built[0], target)
    return target


# ------------------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    """Build the release into ``--out``; ``--check`` only compares the committed plugin manifests."""
    parser = argparse.ArgumentParser(prog="python -m devtools.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dist", help="output folder (default dist)")
    parser.add_argument("--no-wheel", action="store_true", help="skip the wheel (archive and plugin only)")
    parser.add_argument("--check", action="store_true", help="exit 1 if devtools/plugins/*.json drifted")
    parser.add_argument("--write-manifests", action="store_true", help="regenerate devtools/plugins/*.json")
    args = parser.parse_args(argv)
    try:
        if args.check:
            drift = check_manifests()
            for path in drift:
                hint = "regenerate with python -m devtools.packaging --write-manifests"
                print(f"drift: {path} ({hint})", file=sys.stderr)
            return 1 if drift else 0
        if args.write_manifests:
            for path in write_committed_manifests():
                print(path.relative_to(REPO))
            return 0
        out = Path(args.out)
        made = [build_skill_archive(out), write_plugin_folder(out)]
        if not args.no_wheel:
            made.append(build_wheel(out))
    except PackagingError as exc:
        print(f"packaging: error: {exc}", file=sys.stderr)
        return 2
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
