"""Pillow drawing of synthetic scenes: each concept is a fixed shape, colour, texture and size.

Signatures come from a stable hash of the concept URI (never Python's salted `hash`), so the same
concept looks the same in every run, split and variant, and a model can learn it from pixels.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross", "ring",
                           "hexagon")
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 70, 220), "yellow": (240, 210, 20),
    "orange": (245, 130, 20), "purple": (130, 40, 170), "cyan": (20, 200, 210),
    "pink": (245, 120, 190), "brown": (120, 70, 30), "black": (20, 20, 20),
}
TEXTURES: tuple[str, ...] = ("solid", "stripes", "dots", "checker")
SIZES: dict[str, float] = {"small": 0.6, "medium": 0.78, "large": 0.95}
BACKGROUND = (180, 180, 172)
_PATTERN_INK = (250, 250, 250)


@dataclass(frozen=True, slots=True)
class Signature:
    shape: str
    colour: str
    texture: str
    size: str

    @property
    def phrase(self) -> str:
        """How a question names the object: `red circle`."""
        return f"{self.colour} {self.shape}"


def stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def assign_signatures(uris: Sequence[str]) -> dict[str, Signature]:
    """One signature per URI, distinct in (shape, colour, texture): hash, then probe the next free.

    URIs are visited in sorted order so the assignment does not depend on the caller's order.
    """
    colours = tuple(PALETTE)
    combos = [(s, c, t) for s in SHAPES for c in colours for t in TEXTURES]
    taken: set[int] = set()
    out: dict[str, Signature] = {}
    for uri in sorted(uris):
        h = stable_int(uri)
        slot = h % len(combos)
        while slot in taken:
            slot = (slot + 1) % len(combos)
        taken.add(slot)
        shape, colour, texture = combos[slot]
        out[uri] = Signature(shape, colour, texture, tuple(SIZES)[(h >> 16) % len(SIZES)])
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


def _pattern(texture: str, colour: tuple[int, int, int], w: int, h: int) -> Image.Image:
    tile = Image.new("RGB", (w, h), colour)
    draw = ImageDraw.Draw(tile)
    step = max(3, min(w, h) // 5)
    if texture == "stripes":
        for x in range(-h, w, 2 * step):
            draw.line((x, h, x + h, 0), fill=_PATTERN_INK, width=max(1, step // 2))
    elif texture == "dots":
        r = max(1, step // 3)
        for y in range(step // 2, h, step):
            for x in range(step // 2, w, step):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=_PATTERN_INK)
    elif texture == "checker":
        for y in range(0, h, step):
            for x in range(0, w, step):
                if (x // step + y // step) % 2:
                    draw.rectangle((x, y, x + step - 1, y + step - 1), fill=_PATTERN_INK)
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


def draw_shape(canvas: Image.Image, obj: Placed) -> None:
    sig = obj.signature
    pattern = _pattern(sig.texture, PALETTE[sig.colour], obj.w, obj.h)
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


def render(size: int, objects: Sequence[Placed], *, as_text: bool = False) -> Image.Image:
    canvas = Image.new("RGB", (size, size), BACKGROUND)
    for obj in objects:
        (draw_text if as_text else draw_shape)(canvas, obj)
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
