"""Synthetic multi-light PCB inspection dataset in TAO's layout (numpy + Pillow only).

One project (board design) with a set of component positions; every position has one golden image per light under
``golden/<project>/``, shared by the test rows of every board. Test images are the golden scene re-rendered with what
real lines add: within-tolerance placement variation, registration error (sub-pixel shifts up to
``registration_px`` and a tiny rotation), lighting drift per board and light (gain/offset), sensor noise and JPEG
compression. About ``defect_fraction`` of the rows carry a defect, named in the label column: ``missing`` (no
part, unreflowed paste), ``shift`` (part translated or rotated beyond tolerance), ``bridge`` (solder between two
pads), ``scratch`` and ``contamination``; good rows are labelled ``PASS``. Everything is seeded and deterministic.

Layout: ``<out>/dataset.csv`` and ``<out>/images/`` (the TAO-ready root holding ``golden/`` and ``board_NNN/``);
with ``images_wrapper=True`` the root is ``<out>/images/images`` as in real tarballs; ``package=True`` also writes
``<out>/images.tar.gz`` whose members start with ``images/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from optical_inspection.tools._common import IMAGE_FORMATS, SynthResult, ToolError, package_images, staged_output
from optical_inspection.tools._common import write_csv as _write_csv
from optical_inspection.tools._pcb_render import Component, Defect, make_component, paint_scene, render_lights
from optical_inspection.tools._pcb_render import vary_placement as _vary

__all__ = ["SynthResult", "generate", "add_arguments", "main", "DEFECT_KINDS", "DEFAULT_LIGHTS", "SYNTH_VERSION"]

#: Bumped when the same arguments generate different data (caches of generated sets key on it).
SYNTH_VERSION = 2

DEFAULT_LIGHTS = ("LowAngleLight", "SolderLight", "UniformLight", "WhiteLight")
DEFECT_KINDS = ("missing", "shift", "bridge", "scratch", "contamination")
PROJECT = "PCB01TOP"
_PREFIXES = ("R", "C", "Q", "U")
_TEST_QUALITY, _GOLDEN_QUALITY = 90, 95


def _check_args(pairs: int, defect_fraction: float, image_size: int, lights: Sequence[str], image_ext: str) -> None:
    if pairs < 1:
        raise ToolError(f"pairs must be >= 1, got {pairs}.")
    if not 0.0 <= defect_fraction <= 1.0:
        raise ToolError(f"defect_fraction must be in [0, 1], got {defect_fraction}.")
    if image_size < 16:
        raise ToolError(f"image_size must be >= 16 pixels, got {image_size}.")
    if len(set(lights)) != len(lights) or any(not light or "/" in light for light in lights):
        raise ToolError(f"lights must be distinct non-empty names without '/', got {list(lights)}.")
    if image_ext.lower() not in IMAGE_FORMATS:
        raise ToolError(f"image_ext must be one of {', '.join(IMAGE_FORMATS)} (with the dot), got {image_ext!r}.")


def _neighbour_joints(comp: Component, rng: np.random.Generator) -> tuple:
    """Solder fillets of two adjacent leads on one side of the body (a bridge across the body would be hidden)."""
    fillets = comp.fillets
    same_side = [
        i
        for i in range(len(fillets) - 1)
        if min(abs(fillets[i].cx - fillets[i + 1].cx), abs(fillets[i].cy - fillets[i + 1].cy)) < 1e-6
    ]
    i = same_side[int(rng.integers(len(same_side)))]
    return fillets[i], fillets[i + 1]


def _defect_params(kind: str, comp: Component, rng: np.random.Generator) -> dict:
    if kind == "shift":
        if rng.random() < 0.5:
            angle = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(0.1, 0.18)
            return {"dx": dist * np.cos(angle), "dy": dist * np.sin(angle), "rot": 0.0}
        return {"dx": 0.0, "dy": 0.0, "rot": float(rng.choice([-1, 1]) * rng.uniform(15, 35))}
    if kind == "bridge":
        offset = 0.0
        if comp.prefix in ("R", "C"):  # pads at both ends: the bridge runs along a side of the body
            a, b = comp.pads
            offset = (min(comp.body.w, comp.body.h) / 2 + 0.04) * rng.choice([-1, 1])
        else:  # leaded parts: solder joins the joints of two neighbouring leads on the same side of the body
            a, b = _neighbour_joints(comp, rng)
        dx, dy = b.cx - a.cx, b.cy - a.cy
        norm = max(np.hypot(dx, dy), 1e-6)
        ox, oy = -dy / norm * offset, dx / norm * offset
        return {"line": (a.cx + ox, a.cy + oy, b.cx + ox, b.cy + oy), "width": rng.uniform(0.06, 0.09)}
    if kind == "scratch":
        cx, cy = rng.uniform(0.25, 0.75, 2)
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.35, 0.7)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        color = [(0.92, 0.9, 0.85), (0.9, 0.6, 0.35)][int(rng.integers(2))]  # scraped mask: bright or bare copper
        return {"line": (cx - dx, cy - dy, cx + dx, cy + dy), "width": rng.uniform(0.025, 0.045), "color": color}
    if kind == "contamination":
        cx, cy = rng.uniform(0.2, 0.8, 2)
        blobs = [
            (cx + rng.normal(0, 0.03), cy + rng.normal(0, 0.03), rng.uniform(0.08, 0.16), rng.uniform(0.08, 0.16))
            for _ in range(int(rng.integers(1, 4)))
        ]
        color = [(0.8, 0.62, 0.2), (0.92, 0.92, 0.88), (0.55, 0.3, 0.12)][int(rng.integers(3))]  # flux, fibre, residue
        return {"blobs": blobs, "color": color}
    return {}


def _to_uint8(image: np.ndarray, rng: np.random.Generator, noise_std: float, gain=None, offset=0.0) -> np.ndarray:
    image = image.astype(np.float32, copy=False)
    if gain is not None:
        image = image * np.asarray(gain, np.float32) + np.float32(offset)
    out = image * np.float32(255.0)
    if noise_std > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise_std)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _save(array: np.ndarray, path: Path, quality: int) -> None:
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    options = {"quality": quality} if fmt == "JPEG" else {}
    Image.fromarray(array).save(path, format=fmt, **options)


def _component_names(count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(object_name, prefix) pairs such as ('R12@1', 'R'); TAO names objects <CompName>@<TB_Panel>."""
    prefixes = [_PREFIXES[i % len(_PREFIXES)] for i in range(count)]
    rng.shuffle(prefixes)
    counters: dict[str, int] = {}
    names = []
    for prefix in prefixes:
        counters[prefix] = counters.get(prefix, 0) + 1
        names.append((f"{prefix}{counters[prefix]}@1", prefix))
    return names


def generate(
    out_dir: str | Path,
    *,
    pairs: int = 200,
    defect_fraction: float = 0.15,
    seed: int = 0,
    image_size: int = 64,
    lights: Sequence[str] = DEFAULT_LIGHTS,
    image_ext: str = ".jpg",
    package: bool = False,
    registration_px: float = 2.0,
    lighting_drift: float = 0.08,
    noise_std: float = 3.0,
    images_wrapper: bool = False,
) -> SynthResult:
    """Write a synthetic dataset into ``out_dir`` (which must not already hold dataset.csv, images/ or the tarball)."""
    lights = list(lights)
    _check_args(pairs, defect_fraction, image_size, lights, image_ext)
    root = Path(out_dir)
    rng = np.random.default_rng(seed)
    n_components = int(np.clip(pairs // 8, 4, 24))
    names = _component_names(n_components, rng)
    designs = [make_component(rng, prefix) for _, prefix in names]
    n_defect = int(round(pairs * defect_fraction))
    defect_rows = set(rng.choice(pairs, size=n_defect, replace=False).tolist()) if n_defect else set()
    kinds = [DEFECT_KINDS[i % len(DEFECT_KINDS)] for i in range(n_defect)]
    rng.shuffle(kinds)
    defect_kind = dict(zip(sorted(defect_rows), kinds, strict=True))

    outputs = ["dataset.csv", "images"] + (["images.tar.gz"] if package else [])
    with staged_output(root, outputs) as stage:
        top = stage / "images"
        images_dir = top / "images" if images_wrapper else top
        golden_rel = f"golden/{PROJECT}"
        (images_dir / golden_rel).mkdir(parents=True)
        for (name, _), design in zip(names, designs, strict=True):
            canvas = paint_scene(design, image_size)
            for light, image in zip(lights, render_lights(canvas, lights), strict=True):
                path = images_dir / golden_rel / f"{name}_{light}{image_ext}"
                _save(_to_uint8(image, rng, noise_std * 0.5), path, _GOLDEN_QUALITY)

        rows: list[dict[str, str]] = []
        n_boards = -(-pairs // n_components)
        for board in range(n_boards):
            board_rel = f"board_{board:03d}"
            (images_dir / board_rel).mkdir()
            n_lights = len(lights)
            gains = (1 + rng.normal(0, lighting_drift, (n_lights, 1))) * (
                1 + rng.normal(0, lighting_drift * 0.3, (n_lights, 3))
            )
            offsets = rng.normal(0, lighting_drift * 0.3, n_lights)
            for slot in range(n_components):
                row = board * n_components + slot
                if row >= pairs:
                    break
                name, _ = names[slot]
                kind = defect_kind.get(row)
                defect = Defect(kind, _defect_params(kind, designs[slot], rng)) if kind else None
                shift = tuple(rng.uniform(-registration_px, registration_px, 2))
                canvas = paint_scene(_vary(designs[slot], rng), image_size, defect, shift, rng.normal(0, 0.3))
                for k, (light, image) in enumerate(zip(lights, render_lights(canvas, lights), strict=True)):
                    array = _to_uint8(image, rng, noise_std, gains[k], offsets[k])
                    _save(array, images_dir / board_rel / f"{name}_{light}{image_ext}", _TEST_QUALITY)
                rows.append(
                    {"input_path": board_rel, "golden_path": golden_rel, "label": kind or "PASS", "object_name": name}
                )
        _write_csv(stage / "dataset.csv", ("input_path", "golden_path", "label", "object_name"), rows)
        if package:
            package_images(top, stage / "images.tar.gz")
    final_images = root / "images" / "images" if images_wrapper else root / "images"
    return SynthResult(
        root=root,
        csv_path=root / "dataset.csv",
        images_dir=final_images,
        tarball=root / "images.tar.gz" if package else None,
        n_pass=pairs - n_defect,
        n_defect=n_defect,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``synth`` CLI verb."""
    parser.add_argument("out_dir", help="Output folder (gets dataset.csv and images/).")
    parser.add_argument("--pairs", type=int, default=200, help="Number of (test, golden) rows.")
    parser.add_argument("--defect-fraction", type=float, default=0.15, help="Fraction of defect rows.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (same seed, same files).")
    parser.add_argument("--image-size", type=int, default=64, help="Image side in pixels.")
    parser.add_argument("--lights", default=",".join(DEFAULT_LIGHTS), help="Comma-separated light names.")
    parser.add_argument("--image-ext", default=".jpg", help="Image extension with the dot (.jpg or .png).")
    parser.add_argument("--package", action="store_true", help="Also write images.tar.gz.")
    parser.add_argument("--images-wrapper", action="store_true", help="Nest the image root as images/images.")
    parser.add_argument("--registration-px", type=float, default=2.0, help="Max registration shift (pixels).")
    parser.add_argument("--lighting-drift", type=float, default=0.08, help="Board-to-board lighting gain spread.")
    parser.add_argument("--noise-std", type=float, default=3.0, help="Sensor noise std (0-255 scale).")


def main(args: argparse.Namespace) -> int:
    """Run ``synth`` from parsed arguments; prints where the data went. Exit code 2 on a usage error."""
    lights = [name.strip() for name in str(args.lights).split(",") if name.strip()]
    try:
        result = generate(
            args.out_dir,
            pairs=args.pairs,
            defect_fraction=args.defect_fraction,
            seed=args.seed,
            image_size=args.image_size,
            lights=lights,
            image_ext=args.image_ext,
            package=args.package,
            registration_px=args.registration_px,
            lighting_drift=args.lighting_drift,
            noise_std=args.noise_std,
            images_wrapper=args.images_wrapper,
        )
    except ToolError as exc:
        print(f"synth: error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {result.n_pass + result.n_defect} pairs ({result.n_pass} PASS, {result.n_defect} defect)")
    print(f"  csv_path:   {result.csv_path}")
    print(f"  images_dir: {result.images_dir}")
    if result.tarball:
        print(f"  tarball:    {result.tarball}")
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(
        prog="python -m optical_inspection.tools.synth", description=__doc__.split("\n")[0]
    )
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
