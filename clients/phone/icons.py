"""The app's icons, drawn here as PNG files: a white house with a tick on Youth Union blue.

Drawn in code (a few convex shapes filled row by row, written with zlib) rather than kept as
binary files, so the repository holds only text and every size comes from one drawing. The
maskable icon keeps the drawing inside the safe zone (the inner circle of 80 % diameter) and
lets the blue run to the edges, as Android's launcher masks expect.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

BLUE = bytes((13, 71, 161))
WHITE = bytes((255, 255, 255))

# In unit coordinates (0..1, y down): the roof, the house, the tick's two strokes.
ROOF = ((0.5, 0.16), (0.12, 0.5), (0.88, 0.5))
HOUSE = (0.22, 0.46, 0.78, 0.84)  # x0, y0, x1, y1
TICK = (((0.33, 0.63), (0.46, 0.75)), ((0.46, 0.75), (0.69, 0.53)))
TICK_HALF_WIDTH = 0.045


def _triangle_span(y: float, points) -> tuple[float, float] | None:
    xs = []
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        if (y0 <= y <= y1 or y1 <= y <= y0) and y0 != y1:
            xs.append(x0 + (y - y0) * (x1 - x0) / (y1 - y0))
    return (min(xs), max(xs)) if len(xs) >= 2 else None


def _stroke_span(y: float, segment, half: float) -> tuple[float, float] | None:
    (x0, y0), (x1, y1) = segment
    top, bottom = min(y0, y1) - half, max(y0, y1) + half
    if not top <= y <= bottom:
        return None
    t = min(1.0, max(0.0, (y - y0) / (y1 - y0)))
    x = x0 + t * (x1 - x0)
    return x - 1.6 * half, x + 1.6 * half


def _row(y: float, size: int, scale: float) -> bytes:
    def px(u: float) -> int:
        return max(0, min(size, round((0.5 + (u - 0.5) * scale) * size)))

    row = bytearray(BLUE * size)

    def fill(span, colour: bytes) -> None:
        if span is None:
            return
        a, b = px(span[0]), px(span[1])
        if b > a:
            row[3 * a : 3 * b] = colour * (b - a)

    fill(_triangle_span(y, list(ROOF)), WHITE)
    x0, y0, x1, y1 = HOUSE
    if y0 <= y <= y1:
        fill((x0, x1), WHITE)
    for segment in TICK:
        fill(_stroke_span(y, segment, TICK_HALF_WIDTH), BLUE)
    return bytes(row)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=8)
def png(size: int, maskable: bool = False) -> bytes:
    scale = 0.72 if maskable else 0.92
    raw = bytearray()
    for j in range(size):
        v = ((j + 0.5) / size - 0.5) / scale + 0.5  # the unit y this pixel row shows
        raw += b"\x00" + _row(v, size, scale)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )
