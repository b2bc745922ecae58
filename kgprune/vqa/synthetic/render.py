"""Pillow drawing of synthetic scenes: each concept has a fixed shape, two colours, a texture.

Signatures come from a stable hash of the concept URI (never Python's salted `hash`), so the same
concept looks the same in every run, split and variant, and a model can learn it from pixels. At
32 px a shape is a blob of a few pixels, so colour carries the identity: every concept gets its own
pair of colours, and the texture draws the accent into every part of the object.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross", "ring",
                           "hexagon")
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (245, 140, 20), "yellow": (240, 220, 30),
    "lime": (150, 230, 40), "green": (20, 140, 40), "cyan": (30, 210, 220), "blue": (30, 70, 220),
    "navy": (20, 20, 110), "purple": (130, 40, 170), "magenta": (230, 40, 200),
    "pink": (250, 150, 200), "brown": (120, 70, 30), "black": (15, 15, 15),
    "white": (250, 250, 250),
}
TEXTURES: tuple[str, ...] = ("rim", "stripes", "dots", "checker")
SIZES: dict[str, float] = {"small": 0.7, "medium": 0.85, "large": 1.0}
BACKGROUND = (180, 180, 172)
JITTER = 12
"""Per-image shift of each colour channel, at most this much: same look, never the same pixels."""


@dataclass(frozen=True, slots=True)
class Signature:
    shape: str
    colour: str
    accent: str
    """The second colour: the texture's ink, or the rim of a `rim` object."""
    texture: str
    size: str

    @property
    def phrase(self) -> str:
        """How a question names the object: `red circle`."""
        return f"{self.colour} {self.shape}"


def stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def assign_signatures(uris: Sequence[str]) -> dict[str, Signature]:
    """One signature per URI with its own pair of colours: hash, then probe the next free pair.

    The pair is unordered (which colour fills and which is the accent comes from another bit), so
    the set of colours an object shows names it. Shape, texture and size come from other bits.
    URIs are visited in sorted order so the assignment does not depend on the caller's order;
    past 91 concepts pairs repeat.
    """
    colours = tuple(PALETTE)
    pairs = [(a, b) for a in range(len(colours)) for b in range(a + 1, len(colours))]
    taken: set[int] = set()
    out: dict[str, Signature] = {}
    for uri in sorted(uris):
        if len(taken) == len(pairs):
            taken.clear()
        h = stable_int(uri)
        slot = h % len(pairs)
        while slot in taken:
            slot = (slot + 1) % len(pairs)
        taken.add(slot)
        fill, accent = pairs[slot] if (h >> 12) % 2 else pairs[slot][::-1]
        out[uri] = Signature(SHAPES[(h >> 24) % len(SHAPES)], colours[fill], colours[accent],
                             TEXTURES[(h >> 20) % len(TEXTURES)],
                             tuple(SIZES)[(h >> 16) % len(SIZES)])
    return out


def _polygon(kind: str, w: int, h: int) -> list[tuple[float, float]]:
    cx, cy, rx, ry = w / 2, h / 2, w / 2, h / 2
    if kind == "triangle":
        return [(cx, 0), (w - 1, h - 1), (0, h - 1)]
    if kind == "diamond":
        return [(cx, 0), (w - 1, cy), (cx, h - 1), (0, cy)]
    if kind == "hexagon":
        return [(cx + rx * math.cos(math.pi / 3 * i), cy + ry * math.sin(math.pi / 3 * i))
                for i in range(6)]
    points = []
    for i in range(10):
        r = 1.0 if i % 2 == 0 else 0.42
        angle = -math.pi / 2 + math.pi / 5 * i
        points.append((cx + rx * r * math.cos(angle), cy + ry * r * math.sin(angle)))
    return points


def _mask(shape: str, w: int, h: int) -> Image.Image:
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    box = (0, 0, w - 1, h - 1)
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    elif shape == "ring":
        draw.ellipse(box, outline=255, width=max(2, min(w, h) // 4))
    elif shape == "cross":
        draw.rectangle((w // 3, 0, w - 1 - w // 3, h - 1), fill=255)
        draw.rectangle((0, h // 3, w - 1, h - 1 - h // 3), fill=255)
    else:
        draw.polygon(_polygon(shape, w, h), fill=255)
    return mask


RGB = tuple[int, int, int]


def _pattern(sig: Signature, fill: RGB, ink: RGB, w: int, h: int) -> Image.Image:
    """The object's pixels before its shape cuts them out: the fill with the accent drawn in."""
    if sig.texture == "rim":
        tile = Image.new("RGB", (w, h), ink)
        border = max(1, min(w, h) // 6)
        inner = _mask(sig.shape, max(1, w - 2 * border), max(1, h - 2 * border))
        tile.paste(fill, (border, border, border + inner.width, border + inner.height), inner)
        return tile
    tile = Image.new("RGB", (w, h), fill)
    draw = ImageDraw.Draw(tile)
    step = max(2, min(w, h) // 5)
    if sig.texture == "stripes":
        for x in range(-h, w, 2 * step):
            draw.line((x, h, x + h, 0), fill=ink, width=step)
    elif sig.texture == "dots":
        r = max(1, step // 2)
        for y in range(step // 2, h, 2 * step):
            for x in range(step // 2, w, 2 * step):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    elif sig.texture == "checker":
        for y in range(0, h, step):
            for x in range(0, w, step):
                if (x // step + y // step) % 2:
                    draw.rectangle((x, y, x + step - 1, y + step - 1), fill=ink)
    return tile


@dataclass(frozen=True, slots=True)
class Placed:
    """One object on the canvas: its box in pixels and what to draw there."""

    x: int
    y: int
    w: int
    h: int
    signature: Signature
    name: str


def _shifted(colour: RGB, shift: RGB) -> RGB:
    r, g, b = (min(255, max(0, c + d)) for c, d in zip(colour, shift, strict=True))
    return r, g, b


def draw_shape(canvas: Image.Image, obj: Placed, shift: RGB = (0, 0, 0)) -> None:
    sig = obj.signature
    pattern = _pattern(sig, _shifted(PALETTE[sig.colour], shift),
                       _shifted(PALETTE[sig.accent], shift), obj.w, obj.h)
    canvas.paste(pattern, (obj.x, obj.y), _mask(sig.shape, obj.w, obj.h))


def draw_text(canvas: Image.Image, obj: Placed) -> None:
    """The written name, one word a line, scaled to fit the object's box."""
    font = ImageFont.load_default()
    text = "\n".join(obj.name.split())
    probe = ImageDraw.Draw(canvas)
    left, top, right, bottom = (math.floor(v) if i < 2 else math.ceil(v) for i, v in enumerate(
        probe.multiline_textbbox((0, 0), text, font=font, align="center")))
    label = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(label).multiline_text((1 - left, 1 - top), text, fill=255, font=font,
                                         align="center")
    scale = min(obj.w / label.width, obj.h / label.height)
    size = (max(1, round(label.width * scale)), max(1, round(label.height * scale)))
    label = label.resize(size, Image.Resampling.LANCZOS)
    ink = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(ink, (obj.x + (obj.w - size[0]) // 2, obj.y + (obj.h - size[1]) // 2), label)


def render(size: int, objects: Sequence[Placed], *, as_text: bool = False,
           jitter_seed: int | None = None) -> Image.Image:
    """The scene; `jitter_seed` shifts the background and each object's colours a little."""
    rng = None if jitter_seed is None else random.Random(jitter_seed)
    shifts: list[RGB] = [(0, 0, 0) if rng is None else
                         (rng.randint(-JITTER, JITTER), rng.randint(-JITTER, JITTER),
                          rng.randint(-JITTER, JITTER)) for _ in range(len(objects) + 1)]
    canvas = Image.new("RGB", (size, size), _shifted(BACKGROUND, shifts[0]))
    for obj, shift in zip(objects, shifts[1:], strict=True):
        if as_text:
            draw_text(canvas, obj)
        else:
            draw_shape(canvas, obj, shift)
    return canvas


def degrade(image: Image.Image, seed: int) -> Image.Image:
    """Blur, low light and Gaussian noise from a seeded generator, so it is reproducible."""
    dark = ImageEnhance.Brightness(image.filter(ImageFilter.GaussianBlur(1.2))).enhance(0.45)
    noise = np.random.default_rng(seed).normal(0.0, 14.0, (image.height, image.width, 3))
    pixels = np.clip(np.asarray(dark, dtype=np.float64) + noise, 0, 255).round().astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def png_bytes(image: Image.Image) -> bytes:
    """PNG with fixed settings and no metadata chunks, so equal pixels give equal bytes."""
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
