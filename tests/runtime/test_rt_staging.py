"""Data staging: safe extraction, TAO-ready root, CSV and image checks, S3 (moto server on loopback), caching."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tao_skill.errors import UserError
from tao_skill.home import data_cache_root
from tao_skill.safe_tar import safe_extract
from tao_skill.skill import load_skill
from tao_skill.staging import stage_source as _stage_source

LIGHTS = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}


def stage_source(name: str, uri: str, **kwargs):
    """Stage with the Optical Inspection skill's dataset layout (columns, golden/ root, one image per light)."""
    layout = load_skill("tao-train-optical-inspection").info.runtime.dataset
    return _stage_source(name, uri, layout=layout, lights=kwargs.pop("input_map", None), **kwargs)


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"data") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "members,rule_text",
    [
        ([_file("images/ok.jpg"), _file("../escape.txt")], "contains '..'"),
        ([_file("/abs/escape.txt")], "absolute path"),
        ([_link("images/link", "../../outside"), _file("images/link/escape.txt")], "symlink leaving"),
        ([_link("images/abs", "/etc")], "symlink leaving"),
        ([_link("images/hard", "../../etc/passwd", tarfile.LNKTYPE)], "hard link leaving"),
        ([_link("images/dev", "", tarfile.CHRTYPE)], "device or fifo"),
        ([_link("images/fifo", "", tarfile.FIFOTYPE)], "device or fifo"),
    ],
)
def test_malicious_archives_are_refused_and_write_nothing(tmp_path: Path, members, rule_text: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = _tar(tmp_path / "evil.tar.gz", members)
    before = _all_files(tmp_path)
    with pytest.raises(UserError) as err:
        safe_extract(archive, work / "staging" / "out")
    assert rule_text in err.value.message and err.value.issues[0].rule == "unsafe_archive"
    assert _all_files(tmp_path) - before <= {"work/staging"}  # at most the (empty) parent folder
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()


def test_archive_limits(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "big.tar.gz", [_file(f"images/{i}.jpg", b"x" * 100) for i in range(5)])
    with pytest.raises(UserError, match="more than the limit"):
        safe_extract(archive, tmp_path / "a", max_members=3)
    with pytest.raises(UserError, match="expands to more than"):
        safe_extract(archive, tmp_path / "b", max_bytes=250)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_malicious_data_source_leaves_no_cache(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    _tar(source / "images.tar.gz", [_file("images/golden/a.jpg"), _link("images/x", "../../../../outside")])
    (source / "dataset.csv").write_text("input_path,golden_path,label,object_name\n")
    with pytest.raises(UserError):
        stage_source("train_datasets", str(source), progress=lambda _m: None)
    cache = data_cache_root()
    assert not cache.exists() or list(cache.iterdir()) == []


def test_local_source_with_images_images_wrapper(synth_data) -> None:
    messages: list[str] = []
    staged = stage_source("train_datasets", str(synth_data["train"]), input_map=LIGHTS, progress=messages.append)
    assert (staged.images_dir / "golden").is_dir()
    assert staged.images_dir.parent.name == "images" and staged.images_dir.name == "images"
    assert staged.csv_path.name == "dataset.csv" and not staged.cached
    again = stage_source("train_datasets", str(synth_data["train"]), input_map=LIGHTS, progress=messages.append)
    assert again.images_dir == staged.images_dir and any("already extracted" in m for m in messages)


def test_csv_without_a_column(tmp_path: Path, synth_data) -> None:
    source = tmp_path / "src"
    source.mkdir()
    os.symlink(synth_data["val"] / "images.tar.gz", source / "images.tar.gz")
    lines = (synth_data["val"] / "dataset.csv").read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("label")
    rows = [",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines]
    (source / "dataset.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(UserError) as err:
        stage_source("eval_dataset", str(source), input_map=LIGHTS, progress=lambda _m: None)
    issue = err.value.issues[0]
    assert issue.rule == "csv_columns" and "'label'" in issue.message and "dataset.csv" in issue.message


def test_missing_images_are_named(synth_data) -> None:
    with pytest.raises(UserError) as err:
        stage_source(
            "eval_dataset", str(synth_data["val"]), input_map=LIGHTS, image_ext=".png", progress=lambda _m: None
        )
    assert err.value.issues[0].rule == "images_exist"
    assert ".png" in err.value.message and "first:" in err.value.message


def test_s3_source_downloads_once(s3_upload, synth_data) -> None:
    uri = s3_upload("oi-data", "sets/train", synth_data["train"])
    messages: list[str] = []
    staged = stage_source("train_datasets", uri, input_map=LIGHTS, progress=messages.append)
    assert (staged.images_dir / "golden").is_dir() and staged.images_dir.name == "images"
    assert any("MB" in m for m in messages) and not staged.cached
    messages.clear()
    again = stage_source("train_datasets", uri, input_map=LIGHTS, progress=messages.append)
    assert again.cached and again.images_dir == staged.images_dir
    assert any("already staged" in m for m in messages) and not any("MB" in m for m in messages)


def test_s3_errors_are_user_errors(s3_upload, synth_data, monkeypatch) -> None:
    s3_upload("oi-empty", "only-csv", synth_data["val"], files=("dataset.csv",))
    with pytest.raises(UserError) as err:
        stage_source("eval_dataset", "s3://oi-empty/only-csv", progress=lambda _m: None)
    assert err.value.issues[0].rule == "data_source_layout"
    with pytest.raises(UserError) as err:
        stage_source("eval_dataset", "s3://no-such-bucket/x", progress=lambda _m: None)
    assert err.value.issues[0].rule == "s3_access"


def test_s3_source_with_an_images_folder(s3_env, synth_data) -> None:
    """A source may hold an images/ folder instead of images.tar.gz."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)
    client.create_bucket(Bucket="oi-folder")
    root = synth_data["val"]
    client.upload_file(str(root / "dataset.csv"), "oi-folder", "val/dataset.csv")
    for path in (root / "images").rglob("*"):
        if path.is_file():
            client.upload_file(str(path), "oi-folder", f"val/{path.relative_to(root)}")
    staged = stage_source("eval_dataset", "s3://oi-folder/val", input_map=LIGHTS, progress=lambda _m: None)
    assert (staged.images_dir / "golden").is_dir() and staged.csv_path.is_file()
