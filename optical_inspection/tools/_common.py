"""Shared helpers of the data tools: the error type, result record, atomic output and packaging."""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ToolError", "SynthResult", "staged_output", "write_csv", "package_images", "IMAGE_FORMATS"]

#: Image extension -> Pillow format.
IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}


class ToolError(ValueError):
    """A user mistake in a data tool's arguments or inputs: the message says what, where and how to fix it."""


@dataclass
class SynthResult:
    """What a data tool wrote."""

    root: Path  # the output folder
    csv_path: Path  # <root>/dataset.csv
    images_dir: Path  # TAO-ready root: holds golden/ and the folders the CSV names
    tarball: Path | None  # <root>/images.tar.gz when packaged (members start with "images/")
    n_pass: int
    n_defect: int


@contextmanager
def staged_output(out_dir: Path, names: Sequence[str]) -> Iterator[Path]:
    """Write into a hidden staging folder, then move ``names`` into ``out_dir``; refuse to overwrite any of them.

    A failure leaves ``out_dir`` as it was (no half-written dataset).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = [name for name in names if (out_dir / name).exists()]
    if taken:
        raise ToolError(
            f"{out_dir} already holds {', '.join(taken)}; choose an empty output folder or remove them first "
            "(nothing is overwritten)."
        )
    stage = out_dir / f".staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        for name in names:
            if (stage / name).exists():
                (stage / name).rename(out_dir / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    """Write rows with ``columns`` as header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _normalise_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def package_images(images_top: Path, tarball: Path) -> None:
    """Write ``images_top`` as a reproducible ``.tar.gz`` whose members start with ``images/``."""
    with (
        open(tarball, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(images_top.rglob("*")):
            arcname = "images/" + path.relative_to(images_top).as_posix()
            tar.add(path, arcname=arcname, recursive=False, filter=_normalise_member)
