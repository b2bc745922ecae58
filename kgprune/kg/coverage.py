"""Coverage views: nested, seed-rotated subgraphs for the KG-coverage ablations, never copies.

Every fact and concept carries `cov`, a stable pseudo-random number in [0, 1) derived from its key;
a seed rotates it: `rot(cov) = (cov + seed * golden) % 1`. A view at level c keeps what has
`rot(cov) < c`, so for one seed 25% lies inside 50%, and another seed picks a different subset.
Strategies decide *what* is sampled:

- `edge`: facts uniformly;
- `concept`: concepts uniformly, keeping the facts among them (the induced subgraph);
- `relation`: facts, exactly share c of each relation (stratified);
- `walk`: facts in the order a seeded random walk discovers them (connected neighbourhoods);
- `source`: the facts of one source (`conceptnet` or `visual_genome`), then uniformly at level c.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import StrEnum

from kgprune.errors import ConfigError, Errors

GOLDEN = 0.6180339887498949


def stable_unit(key: str) -> float:
    """A uniform number in [0, 1) fixed by the key's bytes, the same on every machine."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return (struct.unpack(">Q", digest)[0] >> 11) / float(1 << 53)


def stable_hash64(key: str) -> int:
    """A signed 64-bit hash of the key, for compact membership sets over millions of keys."""
    return struct.unpack(">q", hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest())[0]


class Strategy(StrEnum):
    EDGE = "edge"
    CONCEPT = "concept"
    RELATION = "relation"
    WALK = "walk"
    SOURCE = "source"


@dataclass(frozen=True, slots=True)
class CoverageView:
    """Which share of the graph a read sees; the default sees everything."""

    level: float = 1.0
    seed: int = 0
    strategy: Strategy = Strategy.EDGE
    source: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.level <= 1.0:
            raise ConfigError(Errors.K010.format(value=self.level))
        object.__setattr__(self, "strategy", _strategy(self.strategy))
        if (self.strategy is Strategy.SOURCE) != bool(self.source):
            raise ConfigError(Errors.K017.format(strategy=self.strategy, source=self.source))

    @property
    def shift(self) -> float:
        return (self.seed * GOLDEN) % 1.0

    @property
    def is_full(self) -> bool:
        return self.level >= 1.0 and self.strategy is not Strategy.SOURCE

    def canonical(self) -> CoverageView:
        """The full graph is one view whatever its seed or strategy: caches key on this, so a
        study's seeds share the full graph's retrievals instead of repeating them."""
        return FULL_VIEW if self.is_full else self

    def rotate(self, cov: float) -> float:
        return (cov + self.shift) % 1.0

    def to_dict(self) -> dict[str, float | int | str]:
        """The view as every JSON output and manifest records it."""
        return {"level": self.level, "seed": self.seed, "strategy": str(self.strategy),
                "source": self.source}


def _strategy(value: str) -> Strategy:
    try:
        return Strategy(value)
    except ValueError:
        known = ", ".join(s.value for s in Strategy)
        raise ConfigError(Errors.K018.format(name=value, known=known)) from None


FULL_VIEW = CoverageView()
