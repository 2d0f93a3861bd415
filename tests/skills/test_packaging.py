"""Release: a reproducible skill-bank archive with a sha256 manifest, plugin manifests in sync, and a wheel that,
installed into a fresh virtual environment, gives a ``tao-skill`` that lists the skills it ships."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from devtools import packaging

REPO = Path(__file__).resolve().parents[2]


def test_archive_is_reproducible_and_its_manifest_matches_the_files(tmp_path: Path) -> None:
    first = packaging.build_skill_archive(tmp_path / "a")
    second = packaging.build_skill_archive(tmp_path / "b")
    assert first.name == f"tao-skill-bank-skills-{packaging.project_metadata()['version']}.tar.gz"
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert {m.mtime for m in members} == {packaging.FIXED_MTIME}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
        stem = first.name.removesuffix(".tar.gz")
        manifest = json.loads(tar.extractfile(f"{stem}/MANIFEST.json").read())
        files = {
            n.removeprefix(stem + "/"): tar.extractfile(n).read() for n in names if not n.endswith("MANIFEST.json")
        }
    assert "skills/tao-train-optical-inspection/SKILL.md" in files
    assert set(manifest["files"]) == set(files)
    for name, data in files.items():
        assert manifest["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        assert data == (REPO / name).read_bytes()
    assert "tao-train-optical-inspection" in manifest["skills"]


def test_committed_plugin_manifests_match_the_metadata(tmp_path: Path) -> None:
    assert packaging.check_manifests() == [], "run: python -m devtools.packaging --write-manifests"
    copy = tmp_path / "plugins"
    shutil.copytree(packaging.PLUGINS_DIR, copy)
    data = json.loads((copy / "claude-plugin.json").read_text())
    data["version"] = "9.9.9"
    (copy / "claude-plugin.json").write_text(json.dumps(data))
    assert packaging.check_manifests(folder=copy) == [str(copy / "claude-plugin.json")]


def test_plugin_folder_holds_both_manifests_and_the_skills_they_name(tmp_path: Path) -> None:
    folder = packaging.write_plugin_folder(tmp_path)
    claude = json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
    codex = json.loads((folder / ".codex-plugin" / "plugin.json").read_text())
    meta = packaging.project_metadata()
    for manifest in (claude, codex):
        assert (manifest["name"], manifest["version"], manifest["description"]) == (
            meta["name"],
            meta["version"],
            meta["description"],
        )
    for manifest in (claude, codex):
        assert manifest["skills"].startswith("./")
        listed = sorted(p.parent.name for p in (folder / manifest["skills"]).glob("*/SKILL.md"))
        assert listed == [s["name"] for s in meta["skills"]] and "tao-train-optical-inspection" in listed
    assert json.loads((folder / codex["mcpServers"]).read_text())["mcpServers"]["tao-skill"]["args"] == ["mcp"]
    assert sorted(p.name for p in (folder / ".codex-plugin").iterdir()) == ["plugin.json"]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_lists_the_skills(tmp_path: Path) -> None:
    """`make package` end to end, then the wheel installed with --no-deps into a new venv (no pip, no repo on
    sys.path). The light dependencies (pyyaml, jsonschema, pydantic) come from this environment through a .pth
    line, like --system-site-packages would give; the test checks `tao_skill` is imported from the new venv."""
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.packaging", "--out", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    wheel = next(out.glob("tao_skill_bank-*-py3-none-any.whl"))
    assert (out / "plugin" / ".claude-plugin" / "plugin.json").is_file()
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "tao_skill/_skills/tao-train-optical-inspection/SKILL.md" in names
        assert not any(n.startswith("skills/") for n in names), "no top-level skills/ folder in site-packages"
        assert "tao_skill/cli.py" in names and any(n.endswith(".dist-info/RECORD") for n in names)
        top_level = {n.split("/")[0] for n in names if "/" in n and ".dist-info/" not in n}
        assert top_level == {"tao_skill", "optical_inspection"}, "one namespace + the trainer"
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    again = packaging.build_wheel(tmp_path / "again")
    assert again.read_bytes() == wheel.read_bytes(), "the wheel is not reproducible"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    import jsonschema
    import pydantic
    import yaml

    deps = sorted({str(Path(m.__file__).resolve().parents[1]) for m in (yaml, jsonschema, pydantic)})
    (site / "zz_light_deps.pth").write_text("\n".join(deps) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TAO_SKILL_BANK", "PYTHONPATH")}
    env["TAO_SKILL_HOME"] = str(tmp_path / "home")
    code = "import tao_skill; print(tao_skill.__file__)"
    where = subprocess.check_output([python, "-c", code], cwd=tmp_path, env=env)
    assert Path(where.decode().strip()).is_relative_to(env_dir)
    listed = subprocess.run(
        [env_dir / "bin" / "tao-skill", "list", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    skills = {s["name"]: s for s in json.loads(listed.stdout)}
    assert "tao-train-optical-inspection" in skills
    assert skills["tao-train-optical-inspection"]["actions"][0] == "train"
