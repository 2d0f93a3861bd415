"""Items 2, 3 and 5: the data-source cache never serves stale labels or a half-extracted tree, hostile or damaged
archives are clear errors that leave nothing in the cache, and staging is safe to run from many processes at once.

Real files throughout; the CLI cases run ``tao-skill`` as a real child process.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tao_skill.errors import UserError
from tao_skill.home import data_cache_root
from tao_skill.skill import load_skill
from tao_skill.staging import stage_source as _stage_source

SKILL = "tao-train-optical-inspection"
LIGHTS = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}
TINY = ["num_epochs=1", "batch_size=4", "image_width=32", "image_height=32", "dataset.workers=0"]


def quiet(_message: str) -> None:
    return None


def stage_source(name: str, uri: str, **kwargs):
    """Stage with the Optical Inspection skill's dataset layout (its columns, golden/ root, one image per light)."""
    layout = load_skill(SKILL).info.runtime.dataset
    return _stage_source(name, uri, layout=layout, lights=kwargs.pop("input_map", None), **kwargs)


def copy_source(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("images.tar.gz", "dataset.csv"):
        shutil.copy2(src / name, dest / name)
    return dest


def cache_entries() -> set[str]:
    """Names in the data cache (hidden temporary folders included)."""
    root = data_cache_root()
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ item 2
def test_edited_csv_beside_an_unchanged_archive_is_used(tmp_path: Path, packaged_data) -> None:
    source = copy_source(packaged_data["train"], tmp_path / "src")
    first = stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    assert sha(first.csv_path) == sha(source / "dataset.csv")

    lines = (source / "dataset.csv").read_text().splitlines()
    header = lines[0].split(",")
    label = header.index("label")
    row = lines[1].split(",")
    row[label] = "PASS" if row[label] != "PASS" else "missing"
    (source / "dataset.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    stamp = (source / "images.tar.gz").stat()

    messages: list[str] = []
    second = stage_source("train_datasets", str(source), input_map=LIGHTS, progress=messages.append)

    assert sha(second.csv_path) == sha(source / "dataset.csv") != sha(first.csv_path)
    assert first.csv_path.read_text() == (packaged_data["train"] / "dataset.csv").read_text()  # a job's copy stays
    assert second.images_dir == first.images_dir and any("already extracted" in m for m in messages)
    assert (source / "images.tar.gz").stat().st_mtime_ns == stamp.st_mtime_ns


def test_replaced_archive_with_the_same_size_and_mtime_is_extracted_again(tmp_path: Path, packaged_data) -> None:
    source = copy_source(packaged_data["train"], tmp_path / "src")
    first = stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    archive = source / "images.tar.gz"
    stat = archive.stat()
    data = bytearray(archive.read_bytes())
    replacement = tmp_path / "replacement.tar.gz"
    replacement.write_bytes(bytes(data))
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, archive)  # same bytes, size and mtime; a new file (inode, ctime)
    second = stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    assert second.images_dir != first.images_dir


# ------------------------------------------------------------------------------------------------ item 3
def damaged(src: Path, dest: Path, how: str) -> Path:
    data = bytearray(src.read_bytes())
    if how == "middle":
        for offset in range(len(data) // 2, len(data) // 2 + 64):
            data[offset] ^= 0x5A
    elif how == "truncated":
        data = data[: len(data) * 2 // 3]
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("how,words", [("middle", "damaged"), ("truncated", "truncated")])
def test_damaged_archive_is_an_error_and_never_cached(tmp_path: Path, packaged_data, how: str, words: str) -> None:
    source = copy_source(packaged_data["train"], tmp_path / "src")
    damaged(packaged_data["train"] / "images.tar.gz", source / "images.tar.gz", how)
    for _attempt in range(2):  # the second attempt meets the same clear error, not a poisoned cache entry
        with pytest.raises(UserError) as err:
            stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
        issue = err.value.issues[0]
        assert issue.rule == "archive_damaged" and words in issue.message, issue.message
        assert "images.tar.gz" in issue.message
        assert cache_entries() <= {"csv"}, cache_entries()


def test_corrupt_tar_header_inside_a_valid_gzip_is_an_error(tmp_path: Path, packaged_data) -> None:
    """A tar reader stops at a damaged header as if the archive ended there; the data after it gives it away."""
    raw = gzip.decompress((packaged_data["train"] / "images.tar.gz").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        offsets = [m.offset for m in tar.getmembers()]
    middle = offsets[len(offsets) // 2]
    broken = bytearray(raw)
    broken[middle : middle + 512] = b"\x7f" * 512
    source = copy_source(packaged_data["train"], tmp_path / "src")
    (source / "images.tar.gz").write_bytes(gzip.compress(bytes(broken)))
    with pytest.raises(UserError) as err:
        stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    assert err.value.issues[0].rule == "archive_damaged" and "data follows" in err.value.issues[0].message
    assert cache_entries() <= {"csv"}


def bomb_archive(path: Path, content_bytes: int = 1024**3) -> Path:
    """A ~1 MB ``images.tar.gz`` holding one file of ``content_bytes`` zeros (concatenated gzip members)."""
    info = tarfile.TarInfo("images/golden/zeros.jpg")
    info.size = content_bytes
    block = 64 * 1024**2
    zeros = gzip.compress(b"\0" * block, compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT)))
        for _ in range(content_bytes // block):
            out.write(zeros)
        out.write(gzip.compress(b"\0" * (2 * 512 + (-content_bytes) % 512)))
    return path


def test_decompression_bomb_is_refused_within_memory_and_disk_bounds(tmp_path: Path, packaged_data, tao_skill):
    """1 MB that expands to 1 GiB, staged by ``tao-skill run`` with its address space capped at what a benign
    failing run of the same command peaked at plus 256 MiB: refused after at most 64 MiB were written."""
    truncated = copy_source(packaged_data["train"], tmp_path / "truncated")
    damaged(packaged_data["train"] / "images.tar.gz", truncated / "images.tar.gz", "truncated")
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    shutil.copy2(packaged_data["train"] / "dataset.csv", bomb / "dataset.csv")
    assert bomb_archive(bomb / "images.tar.gz").stat().st_size < 2 * 1024**2

    def run(source: Path, limit: int = 0):
        return tao_skill(
            "run", SKILL, "train", "--automl-policy", "off", "--data", f"train_datasets={source}",
            "--data", f"eval_dataset={packaged_data['val']}", "--json", as_limit=limit,
        )  # fmt: skip

    baseline = run(truncated)
    assert baseline.returncode == 2 and baseline.peak_bytes, baseline.stderr
    refused = run(bomb, baseline.peak_bytes + 256 * 1024**2)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    issue = json.loads(refused.stdout)["issues"][0]
    assert issue["rule"] == "archive_bomb" and "decompression bomb" in issue["message"]
    assert not any(n.startswith(".") for n in cache_entries())
    assert not list(data_cache_root().rglob("zeros.jpg"))  # nothing of the bomb is left in the cache


def test_archive_limits_come_from_the_environment(tmp_path: Path, packaged_data, monkeypatch) -> None:
    source = copy_source(packaged_data["train"], tmp_path / "src")
    monkeypatch.setenv("TAO_SKILL_MAX_ARCHIVE_FILES", "5")
    with pytest.raises(UserError, match="more than the limit of 5 entries"):
        stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    monkeypatch.delenv("TAO_SKILL_MAX_ARCHIVE_FILES")
    monkeypatch.setenv("TAO_SKILL_MAX_ARCHIVE_BYTES", "1000")
    with pytest.raises(UserError, match="expands to more than 1000 bytes"):
        stage_source("train_datasets", str(source), input_map=LIGHTS, progress=quiet)
    assert cache_entries() <= {"csv"}


def test_truncated_archive_through_the_cli_is_exit_2_without_traceback(tmp_path: Path, packaged_data, tao_skill):
    train = copy_source(packaged_data["train"], tmp_path / "train")
    damaged(packaged_data["train"] / "images.tar.gz", train / "images.tar.gz", "truncated")
    run = tao_skill(
        "run", SKILL, "train", "--automl-policy", "off", "--data", f"train_datasets={train}",
        "--data", f"eval_dataset={packaged_data['val']}", "train.num_epochs=1", "--json",
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    issue = json.loads(run.stdout)["issues"][0]
    assert issue["rule"] == "archive_damaged" and "truncated" in issue["message"]
    assert not any(n.startswith(".") or n == "results" for n in cache_entries())
    jobs = tao_skill("jobs", "--json")
    assert jobs.returncode == 0 and json.loads(jobs.stdout) == []


# ------------------------------------------------------------------------------------------------ item 5
_STAGE_AND_READ = """
import hashlib, sys
from tao_skill.skill import load_skill
from tao_skill.staging import stage_source
lights = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}
layout = load_skill("tao-train-optical-inspection").info.runtime.dataset
staged = stage_source("train_datasets", sys.argv[1], layout=layout, lights=lights, progress=lambda m: None)
print(hashlib.sha256(staged.csv_path.read_bytes()).hexdigest())
"""


def test_concurrent_staging_of_one_source_never_reads_a_half_written_csv(tmp_path: Path, packaged_data) -> None:
    """Four processes stage one source at once while this one reads every staged CSV the moment it appears."""
    source = copy_source(packaged_data["train"], tmp_path / "src")
    lines = (source / "dataset.csv").read_text().splitlines()
    (source / "dataset.csv").write_text("\n".join([lines[0]] + lines[1:] * 15000) + "\n")  # ~30 MB
    expected = sha(source / "dataset.csv")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _STAGE_AND_READ, str(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    size, root, seen = (source / "dataset.csv").stat().st_size, data_cache_root(), 0
    while any(proc.poll() is None for proc in procs):
        for path in [*root.glob("*/dataset.csv"), *root.glob("csv/*/dataset.csv")]:
            try:
                found = path.stat().st_size
            except FileNotFoundError:
                continue
            seen += 1
            assert found == size, f"{path} was visible half-written ({found} of {size} bytes)"
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == expected
    assert seen > 0
    assert not any(n.startswith(".") for n in cache_entries())


def test_relative_data_folder_is_resolved_at_plan_time(tmp_path: Path, packaged_data, tao_skill) -> None:
    """Folders without a tarball are used in place: a relative one must not be read from the job's results folder."""
    work = tmp_path / "work"
    for name in ("train", "val"):
        shutil.copytree(packaged_data[name], work / "data" / name, ignore=shutil.ignore_patterns("*.tar.gz"))
    args = [
        "train", "--automl-policy", "off", "--data", "train_datasets=data/train", "--data", "eval_dataset=./data/val",
        *TINY, "--json",
    ]  # fmt: skip
    plan = tao_skill("plan", SKILL, *args, cwd=work)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    sources = json.loads(plan.stdout)["data_sources"]
    assert sources == {"train_datasets": str(work / "data" / "train"), "eval_dataset": str(work / "data" / "val")}

    run = tao_skill("run", SKILL, *args, "--wait", cwd=work)
    assert run.returncode == 0, run.stdout + run.stderr
    job = json.loads(run.stdout)
    assert job["state"] == "done", job
    assert job["spec"]["dataset"]["train_dataset"]["images_dir"].startswith(str(work / "data" / "train"))
