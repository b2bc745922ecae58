"""Coverage views: a nested, seed-rotated subset of the graph, read without copying it.

Every fact and concept carries `cov`, a stable pseudo-random number in [0, 1) derived from its key.
The view at level c keeps what has `(cov + seed * golden) % 1 < c`: for one seed, 25% is inside 50%;
another seed rotates which items fall inside.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from kgprune.errors import ConfigError, Errors

GOLDEN = 0.6180339887498949


def stable_unit(key: str) -> float:
    """A uniform number in [0, 1) fixed by the key's bytes, the same on every machine."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return (struct.unpack(">Q", digest)[0] >> 11) / float(1 << 53)


def stable_hash64(key: str) -> int:
    """A signed 64-bit hash of the key, for compact membership sets over millions of keys."""
    return struct.unpack(">q", hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest())[0]


@dataclass(frozen=True, slots=True)
class CoverageView:
    """Which share of the graph a read sees; the default sees everything."""

    level: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.level <= 1.0:
            raise ConfigError(Errors.K010.format(value=self.level))

    @property
    def shift(self) -> float:
        return (self.seed * GOLDEN) % 1.0

    @property
    def is_full(self) -> bool:
        return self.level >= 1.0

    def contains(self, cov: float) -> bool:
        return self.is_full or (cov + self.shift) % 1.0 < self.level

    def params(self) -> dict[str, float]:
        """Query parameters for the `cov_level` / `cov_shift` placeholders of every read."""
        return {"cov_level": 1.0 if self.is_full else self.level, "cov_shift": self.shift}


FULL_VIEW = CoverageView()
