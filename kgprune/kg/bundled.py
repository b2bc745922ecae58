"""The mini knowledge graph shipped inside the package, in the real dump formats.

Written for kgprune (see tools/make_bundled_kg.py): everyday objects, their uses, locations,
materials, categories and abilities, plus a small Visual Genome set of scenes of those objects.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from kgprune.kg.ingest import load_conceptnet, load_visual_genome
from kgprune.kg.records import LoadReport
from kgprune.kg.store import GraphStore, home_store_url

_DATA = files("kgprune.kg") / "data"


def conceptnet_path() -> Path:
    return Path(str(_DATA / "conceptnet-mini.csv.gz"))


def visual_genome_dir() -> Path:
    return Path(str(_DATA / "visual_genome"))


def load_bundled(store: GraphStore) -> list[LoadReport]:
    """Load both bundled sources; a second call adds nothing."""
    return [load_conceptnet(store, conceptnet_path()), load_visual_genome(store, visual_genome_dir())]


def load_if_home(store: GraphStore) -> list[LoadReport]:
    """Load the bundled KG when `store` is the data-home store; leave any other store as it is.

    Commands run without --store fill the store they open with the bundled KG only if it is
    kgprune's own: a store named by KGPRUNE_STORE is the user's graph, and gets the bundled KG
    only when asked (`kgprune kg load bundled`).
    """
    return load_bundled(store) if store.url == home_store_url() else []
