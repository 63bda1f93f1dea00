"""shapes10: a procedurally generated 10-class colour image set, CIFAR-10's role on a CPU (docs/shapes.md).

Each image shows one shape whose class is the label (disk, square, triangle, ring, plus, diamond, frame,
bars, crescent, star) under nuisances drawn independently of the class: translation, scale, rotation,
foreground and background colours, a fill texture (solid, stripes or checks), a background gradient,
clutter strokes drawn over the scene, and pixel noise. ``difficulty`` in [0, 1] widens every nuisance at
once. Deterministic from ``seed`` (the test split has its own stream, so the first test images do not
depend on ``num_train``), rendered with numpy in chunks (about 14 s for 25,000 images of 24x24 on one
busy core), standardized per channel with the training split's statistics.

Shapes are drawn from signed distances in the shape's own frame, anti-aliased over one pixel. Rotation
stays within +-20 degrees at most, so a square never becomes a diamond.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from . import Dataset

CLASSES = ("disk", "square", "triangle", "ring", "plus", "diamond", "frame", "bars", "crescent", "star")
_CHUNK = 2048


def _distance(label: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of shape ``label`` in its frame, where the shape spans about
    [-0.9, 0.9]^2."""
    au, av = np.abs(u), np.abs(v)
    r = np.hypot(u, v)
    name = CLASSES[label]
    if name == "disk":
        return r - 0.8
    if name == "square":
        return np.maximum(au, av) - 0.7
    if name == "triangle":  # equilateral, apex down; inscribed radius 0.45
        c, s = np.sqrt(3) / 2, 0.5
        return np.maximum.reduce([v - 0.45, -c * u - s * v - 0.45, c * u - s * v - 0.45])
    if name == "ring":
        return np.abs(r - 0.62) - 0.2
    if name == "plus":
        return np.minimum(np.maximum(au - 0.25, av - 0.85), np.maximum(au - 0.85, av - 0.25))
    if name == "diamond":
        return (au + av) / np.sqrt(2) - 0.62
    if name == "frame":
        return np.abs(np.maximum(au, av) - 0.6) - 0.16
    if name == "bars":
        return np.maximum(au - 0.8, np.abs(av - 0.42) - 0.18)
    if name == "crescent":
        return np.maximum(r - 0.8, 0.62 - np.hypot(u - 0.38, v))
    if name == "star":  # five points; a radial bound, scaled to about one unit per unit of distance
        phi = np.arctan2(u, v)
        return (r - (0.55 + 0.32 * np.cos(5 * phi))) * 0.8
    raise ValueError(label)


def _texture(kind: np.ndarray, freq: np.ndarray, angle: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Fill pattern in [0, 1]: 0 solid, 1 stripes, 2 checks (per image), in the shape's frame."""
    along = u * np.cos(angle) + v * np.sin(angle)
    stripes = (np.sin(freq * along) > 0).astype(np.float32)
    checks = ((np.sin(freq * u) > 0) ^ (np.sin(freq * v) > 0)).astype(np.float32)
    return np.where(kind == 0, 1.0, np.where(kind == 1, stripes, checks))


def render(labels: np.ndarray, size: int, difficulty: float, rng: np.random.Generator) -> np.ndarray:
    """Images (n, 3, size, size) in [0, 1] for ``labels``, nuisances drawn from ``rng``."""
    n = len(labels)
    d = float(difficulty)
    # nuisances: all drawn up front (fixed order), independent of the class
    shift = rng.uniform(-1, 1, size=(n, 2)) * (0.08 + 0.3 * d)
    scale = rng.uniform(0.62 - 0.22 * d, 0.8, size=n)
    turn = np.deg2rad(rng.uniform(-1, 1, size=n) * 20 * d)
    fg = rng.uniform(size=(n, 3))
    bg = rng.uniform(size=(n, 3))
    contrast = 0.55 - 0.35 * d  # background moved away from the foreground until they differ this much
    gap = bg - fg
    norm = np.linalg.norm(gap, axis=1, keepdims=True).clip(1e-6)
    bg = np.where(norm < contrast, fg + gap / norm * contrast, bg).clip(0, 1)
    kind = rng.integers(0, 3, size=n)
    freq = rng.uniform(5, 9, size=n)
    angle = rng.uniform(0, np.pi, size=n)
    slope = rng.normal(size=(n, 2)) * 0.15 * (0.5 + d)
    n_strokes = rng.poisson(4 * d, size=n).clip(0, 8)
    strokes = rng.uniform(-1, 1, size=(n, 8, 4))  # endpoints (x0, y0, x1, y1) of up to 8 strokes
    stroke_col = rng.uniform(size=(n, 8, 3))
    noise_sd = 0.02 + 0.1 * d

    axis = (np.arange(size) + 0.5) / size * 2 - 1
    gy, gx = np.meshgrid(axis, axis, indexing="ij")
    x = gx[None] - shift[:, 0, None, None]
    y = -gy[None] - shift[:, 1, None, None]  # v points up
    c, s = np.cos(turn)[:, None, None], np.sin(turn)[:, None, None]
    sc = scale[:, None, None]
    u, v = (c * x + s * y) / sc, (-s * x + c * y) / sc
    dist = np.empty_like(u)
    for label in np.unique(labels):
        pick = labels == label
        dist[pick] = _distance(int(label), u[pick], v[pick])
    pixel = (2.0 / size) / sc
    alpha = np.clip(0.5 - dist / pixel, 0, 1)[:, None]                         # (n, 1, S, S)
    pattern = _texture(kind[:, None, None], freq[:, None, None], angle[:, None, None], u, v)[:, None]
    fill = fg[:, :, None, None] * (0.45 + 0.55 * pattern)
    ramp = slope[:, 0, None, None] * gx[None] + slope[:, 1, None, None] * gy[None]
    back = (bg[:, :, None, None] + ramp[:, None]).clip(0, 1)
    img = back * (1 - alpha) + fill * alpha
    # clutter: thin strokes over the scene (they may cross the shape)
    for k in range(int(n_strokes.max(initial=0))):
        active = n_strokes > k
        x0, y0, x1, y1 = (strokes[:, k, i, None, None] for i in range(4))
        dx, dy = (x1 - x0) * 0.5, (y1 - y0) * 0.5  # half-length strokes
        t = (((gx[None] - x0) * dx + (gy[None] - y0) * dy) / (dx * dx + dy * dy + 1e-9)).clip(0, 1)
        line = np.hypot(gx[None] - x0 - t * dx, gy[None] - y0 - t * dy)
        a = (np.clip(1.0 - line / (1.2 / size), 0, 1) * active[:, None, None])[:, None]
        img = img * (1 - a) + stroke_col[:, k, :, None, None] * a
    img += rng.normal(size=img.shape) * noise_sd
    return img.clip(0, 1).astype(np.float32)


def generate(n: int, size: int, difficulty: float, seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images and labels of one split (``stream`` 0 train, 1 test), rendered chunk by chunk; the
    classes are balanced up to one image."""
    rng = np.random.default_rng([seed, stream])
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        chunk = np.random.default_rng([seed, stream, start])  # a chunk's images depend on nothing else
        images[start:start + _CHUNK] = render(labels[start:start + _CHUNK], size, difficulty, chunk)
    return images, labels


def load_shapes(size: int = 24, num_train: int = 20_000, num_test: int = 5_000, difficulty: float = 0.5,
                seed: int = 0) -> "Dataset":
    from . import Dataset  # noqa: F811

    if not 0 <= difficulty <= 1:
        raise ValueError(f"shapes10: difficulty must lie in [0, 1], got {difficulty}")
    x_train, y_train = generate(num_train, size, difficulty, seed, 0)
    x_test, y_test = generate(num_test, size, difficulty, seed, 1)
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True)
    return Dataset("shapes10", (x_train - mean) / std, y_train, (x_test - mean) / std, y_test)
