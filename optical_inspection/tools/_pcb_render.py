"""A small procedural renderer of PCB component crops under the four AOI lights (numpy only).

A scene is painted as material maps (diffuse albedo, specular strength, height) from anti-aliased primitives
(rotated boxes, ellipses, capsules) defined in normalised [0, 1] coordinates, so the same scene renders at any size
and any sub-pixel shift or small rotation (registration error) without resampling. Lights differ the way AOI
lights do: LowAngleLight is dark except on slopes (edges, solder fillets), SolderLight makes solder and metal
shine, UniformLight is flat diffuse, WhiteLight is bright diffuse with a little top-down shading.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Component", "Defect", "make_component", "render_lights", "LIGHT_MODELS"]

# Diffuse albedo (RGB in [0, 1]) and specular strength of the materials.
SOLDER_MASK = np.array([0.12, 0.38, 0.20], np.float32)
COPPER = np.array([0.80, 0.52, 0.30], np.float32)
SOLDER = np.array([0.72, 0.72, 0.70], np.float32)
SILK = np.array([0.92, 0.92, 0.88], np.float32)
TERMINAL = np.array([0.78, 0.78, 0.76], np.float32)
BODIES = {
    "R": np.array([0.08, 0.08, 0.08], np.float32),
    "C": np.array([0.66, 0.55, 0.38], np.float32),
    "Q": np.array([0.15, 0.15, 0.16], np.float32),
    "U": np.array([0.18, 0.18, 0.20], np.float32),
}


@dataclass(frozen=True)
class Box:
    cx: float
    cy: float
    w: float
    h: float
    angle: float = 0.0  # degrees


@dataclass(frozen=True)
class Defect:
    """A defect painted over (or instead of) a component; ``kind`` is the CSV label."""

    kind: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    """One component position on a board: body, pads and traces, plus placement and solder variation."""

    prefix: str  # R, C, Q, U
    body: Box
    pads: tuple[Box, ...]
    fillets: tuple[Box, ...]  # solder fillets (ellipses), one per pad
    terminals: tuple[Box, ...]  # metal ends/leads of the body
    traces: tuple[tuple[float, float, float, float, float], ...]  # x0, y0, x1, y1, width
    silk: Box
    texture_seed: int
    solder_scale: float = 1.0
    body_dx: float = 0.0
    body_dy: float = 0.0
    body_rot: float = 0.0


def make_component(rng: np.random.Generator, prefix: str) -> Component:
    """A random component design of type ``prefix`` (R/C: two-terminal chip; Q: SOT-23; U: SOIC-8)."""
    vertical = bool(rng.integers(2))
    cx, cy = 0.5 + rng.uniform(-0.03, 0.03), 0.5 + rng.uniform(-0.03, 0.03)
    pads: list[Box] = []
    fillets: list[Box] = []
    terminals: list[Box] = []
    traces: list[tuple[float, float, float, float, float]] = []
    if prefix in ("R", "C"):
        length, width = rng.uniform(0.36, 0.46), rng.uniform(0.18, 0.26)
        body = Box(cx, cy, length, width)
        pad_w, pad_h = rng.uniform(0.12, 0.16), width * rng.uniform(1.25, 1.45)
        for side in (-1, 1):
            px = cx + side * (length / 2 - pad_w * 0.15)
            pads.append(Box(px, cy, pad_w, pad_h))
            fillets.append(Box(px + side * pad_w * 0.22, cy, pad_w * 0.6, pad_h * 0.8))
            terminals.append(Box(cx + side * (length / 2 - length * 0.08), cy, length * 0.16, width))
            traces.append((px, cy, px + side * 0.5, cy + rng.uniform(-0.1, 0.1), rng.uniform(0.04, 0.07)))
        silk = Box(cx, cy, length + 2.2 * pad_w, pad_h + 0.1)
    else:
        n_side = 2 if prefix == "Q" else 4
        length, width = (rng.uniform(0.30, 0.36), rng.uniform(0.16, 0.2)) if prefix == "Q" else (0.42, 0.3)
        body = Box(cx, cy, length, width)
        pitch = length / n_side
        lead_len, lead_w = rng.uniform(0.08, 0.11), pitch * 0.45
        for side in (-1, 1):
            count = n_side if (prefix == "U" or side < 0) else 1
            for k in range(count):
                px = cx - length / 2 + pitch * (k + 0.5) if count > 1 else cx
                py = cy + side * (width / 2 + lead_len * 0.6)
                pads.append(Box(px, py, lead_w * 1.5, lead_len * 1.6))
                fillets.append(Box(px, py + side * lead_len * 0.25, lead_w * 1.1, lead_len * 0.9))
                terminals.append(Box(px, cy + side * (width / 2 + lead_len * 0.4), lead_w, lead_len))
                traces.append((px, py, px + rng.uniform(-0.05, 0.05), py + side * 0.5, lead_w * 0.8))
        silk = Box(cx, cy, length + 0.08, width + 2 * lead_len * 1.8 + 0.04)
    if vertical:
        body, silk = _swap(body), _swap(silk)
        pads, fillets, terminals = [_swap(b) for b in pads], [_swap(b) for b in fillets], [_swap(b) for b in terminals]
        traces = [(y0, x0, y1, x1, w) for x0, y0, x1, y1, w in traces]
    return Component(
        prefix, body, tuple(pads), tuple(fillets), tuple(terminals), tuple(traces), silk, int(rng.integers(2**31))
    )


def _swap(box: Box) -> Box:
    return Box(box.cy, box.cx, box.h, box.w, box.angle)


def vary_placement(component: Component, rng: np.random.Generator) -> Component:
    """Within-tolerance board-to-board variation: small body offset and rotation, solder volume."""
    return replace(
        component,
        body_dx=rng.normal(0, 0.006),
        body_dy=rng.normal(0, 0.006),
        body_rot=rng.normal(0, 0.8),
        solder_scale=float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2)),
    )


class _Canvas:
    """Material maps on a pixel grid, in normalised coordinates after registration (shift, rotation)."""

    def __init__(self, size: int, shift: tuple[float, float], rotation: float) -> None:
        self.size = size
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size
        x, y = np.meshgrid(coords, coords)
        x, y = x - 0.5 - shift[0] / size, y - 0.5 - shift[1] / size
        c, s = np.float32(np.cos(np.radians(rotation))), np.float32(np.sin(np.radians(rotation)))
        self.x, self.y = c * x + s * y + np.float32(0.5), -s * x + c * y + np.float32(0.5)
        self.albedo = np.empty((size, size, 3), np.float32)
        self.albedo[:] = SOLDER_MASK
        self.spec = np.zeros((size, size), np.float32)
        self.height = np.zeros((size, size), np.float32)

    def _aa(self, sdf: np.ndarray) -> np.ndarray:
        return np.clip(np.float32(0.5) - sdf * np.float32(self.size), 0.0, 1.0).astype(np.float32, copy=False)

    def box(self, b: Box, dx: float = 0.0, dy: float = 0.0, rot: float = 0.0) -> np.ndarray:
        c, s = float(np.cos(np.radians(b.angle + rot))), float(np.sin(np.radians(b.angle + rot)))
        px, py = self.x - (b.cx + dx), self.y - (b.cy + dy)
        u, v = np.abs(c * px + s * py) - b.w / 2, np.abs(-s * px + c * py) - b.h / 2
        outside = np.hypot(np.maximum(u, 0), np.maximum(v, 0))
        return self._aa(outside + np.minimum(np.maximum(u, v), 0))

    def ellipse(self, b: Box) -> tuple[np.ndarray, np.ndarray]:
        """Coverage and a dome profile (1 at the centre, 0 at the rim)."""
        r2 = ((self.x - b.cx) / (b.w / 2)) ** 2 + ((self.y - b.cy) / (b.h / 2)) ** 2
        sdf = (np.sqrt(r2) - 1) * min(b.w, b.h) / 2
        return self._aa(sdf), np.clip(1 - r2, 0, 1)

    def capsule(self, x0: float, y0: float, x1: float, y1: float, width: float) -> np.ndarray:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((self.x - x0) * dx + (self.y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        return self._aa(np.hypot(self.x - x0 - t * dx, self.y - y0 - t * dy) - width / 2)

    def paint(self, cover: np.ndarray, color: np.ndarray, spec: float = 0.0, height: np.ndarray | float | None = None):
        """Blend a material over the maps where ``cover`` (0..1) is set, only inside its bounding box."""
        rows = np.flatnonzero(cover.any(axis=1))
        if not len(rows):
            return
        cols = np.flatnonzero(cover.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        c = cover[box].astype(np.float32, copy=False)
        self.albedo[box] += (np.asarray(color, np.float32) - self.albedo[box]) * c[..., None]
        self.spec[box] += (np.float32(spec) - self.spec[box]) * c
        if height is not None:
            target = height[box] if isinstance(height, np.ndarray) else np.float32(height)
            self.height[box] += (target - self.height[box]) * c


def _texture(size: int, seed: int) -> np.ndarray:
    """Low-frequency mask texture (fibre weave seen through the solder mask), fixed per component position."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (8, 8)).astype(np.float32)
    idx = np.linspace(0, 7, size)
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, 7)
    f = (idx - lo).astype(np.float32)
    rows = coarse[lo] * (1 - f)[:, None] + coarse[hi] * f[:, None]
    return rows[:, lo] * (1 - f)[None, :] + rows[:, hi] * f[None, :]


def paint_scene(
    component: Component, size: int, defect: Defect | None = None, shift=(0.0, 0.0), rotation: float = 0.0
) -> _Canvas:
    """Paint the material maps of one component crop (with an optional defect)."""
    cv = _Canvas(size, shift, rotation)
    cv.albedo *= 1 + 0.06 * _texture(size, component.texture_seed)[..., None]
    kind = defect.kind if defect else None
    p = defect.params if defect else {}
    for x0, y0, x1, y1, w in component.traces:
        cv.paint(cv.capsule(x0, y0, x1, y1, w), COPPER * 0.55 + SOLDER_MASK * 0.45, 0.1, 0.03)
    silk = component.silk
    inner = Box(silk.cx, silk.cy, silk.w - 0.04, silk.h - 0.04)
    outline = np.clip(cv.box(silk) - cv.box(inner), 0, 1)
    cv.paint(outline, SILK, 0.0)
    for pad in component.pads:
        cv.paint(cv.box(pad), COPPER, 0.5, 0.05)
    for fillet in component.fillets:
        scale = component.solder_scale
        grown = Box(fillet.cx, fillet.cy, fillet.w * scale, fillet.h * scale)
        cover, dome = cv.ellipse(grown)
        if kind == "missing":  # unreflowed paste on bare pads: matte, flat
            cv.paint(cover, SOLDER * 0.75, 0.15, 0.08)
        else:
            cv.paint(cover, SOLDER, 1.0, 0.05 + 0.5 * np.sqrt(dome) * scale)
    if kind == "bridge":
        cv.paint(cv.capsule(*p["line"], p["width"]), SOLDER, 1.0, 0.35)
    if kind != "missing":
        dx, dy, rot = component.body_dx, component.body_dy, component.body_rot
        if kind == "shift":
            dx, dy, rot = dx + p["dx"], dy + p["dy"], rot + p["rot"]
        body_color = BODIES[component.prefix]
        body = component.body
        for term in component.terminals:
            # terminals move with the body: rotate their offset about the body centre
            c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
            ox, oy = term.cx - body.cx, term.cy - body.cy
            t = Box(body.cx + c * ox - s * oy, body.cy + s * ox + c * oy, term.w, term.h)
            cv.paint(cv.box(t, dx, dy, rot), TERMINAL, 0.8, 0.6)
        cv.paint(cv.box(body, dx, dy, rot), body_color, 0.05, 1.0)
        if component.prefix in ("R", "U"):  # marking / pin-1 dot
            mark = Box(body.cx, body.cy, body.w * 0.4, body.h * 0.18)
            cv.paint(cv.box(mark, dx, dy, rot) * 0.8, SILK * 0.8, 0.0)
    if kind == "scratch":
        cv.paint(cv.capsule(*p["line"], p["width"]), np.array(p["color"], np.float32), 0.3, cv.height - 0.15)
    if kind == "contamination":
        for cx, cy, rx, ry in p["blobs"]:
            cover, dome = cv.ellipse(Box(cx, cy, rx, ry))
            cv.paint(cover, np.array(p["color"], np.float32), 0.05, cv.height + 0.2 * dome + 0.05)
    return cv


def _slope(height: np.ndarray, size: int) -> np.ndarray:
    gy, gx = np.gradient(height)
    return np.hypot(gx, gy) * (size / 64.0)


def _light_low_angle(cv: _Canvas, slope: np.ndarray) -> np.ndarray:
    glow = np.clip(slope * 2.2, 0, 1)[..., None]
    return cv.albedo * 0.22 + glow * np.array([0.55, 0.7, 1.0], np.float32)


def _light_solder(cv: _Canvas, slope: np.ndarray) -> np.ndarray:
    shine = (cv.spec * np.exp(-(((slope - 0.25) / 0.2) ** 2)))[..., None]
    return cv.albedo * 0.3 + shine * np.array([1.0, 0.88, 0.7], np.float32) + cv.spec[..., None] * 0.15


def _light_uniform(cv: _Canvas, slope: np.ndarray) -> np.ndarray:
    return cv.albedo * 0.85 + 0.04


def _light_white(cv: _Canvas, slope: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(cv.height)
    shade = np.clip(1.0 - 0.8 * (gx + gy) * (cv.size / 64.0), 0.6, 1.3)[..., None]
    return cv.albedo * 1.15 * shade + cv.spec[..., None] * 0.1


LIGHT_MODELS = {
    "LowAngleLight": _light_low_angle,
    "SolderLight": _light_solder,
    "UniformLight": _light_uniform,
    "WhiteLight": _light_white,
}


def render_lights(cv: _Canvas, lights: list[str]) -> list[np.ndarray]:
    """Float RGB images in [0, 1] (unclipped) under each light; unknown light names get a blend of the four."""
    slope = _slope(cv.height, cv.size)
    out = []
    for light in lights:
        model = LIGHT_MODELS.get(light)
        if model is None:  # any other light name: a deterministic mix so that each light still looks different
            weights = np.random.default_rng(zlib.crc32(light.encode())).dirichlet(np.ones(4))
            out.append(sum(w * m(cv, slope) for w, m in zip(weights, LIGHT_MODELS.values(), strict=True)))
        else:
            out.append(model(cv, slope))
    return out
