"""`kgprune link ...`: build the concept index and link questions to concepts."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, StoreOpt, err, out, print_json, progress_bar
from kgprune.kg.store import open_store
from kgprune.linking.encoder import ENCODER_NAMES, encoder_by_name, encoder_for_identity
from kgprune.linking.index import ConceptIndex, default_index_dir, index_exists, read_manifest
from kgprune.linking.linker import LinkedConcept, Linker

link_app = typer.Typer(no_args_is_help=True, help="Link text to knowledge-graph concepts.")

EncoderOpt = Annotated[str, typer.Option(help=f"Entity encoder: {', '.join(ENCODER_NAMES)}.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Index directory (default: per store).")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index directory "
                                               "(default: per store under KGPRUNE_HOME/index).")]


@link_app.command("build-index")
def build_index_cmd(store: StoreOpt = None, encoder: EncoderOpt = "auto",
                    out_dir: OutOpt = None) -> None:
    """Embed every concept name of a store into a FAISS index for fuzzy linking."""
    enc = encoder_by_name(encoder)
    started = time.perf_counter()
    with open_store(store) as s:
        with progress_bar(f"Indexing with {enc.identity}", unit_bytes=False) as progress:
            index = ConceptIndex.build(s, encoder=enc, on_progress=progress)
        directory = index.save(out_dir or default_index_dir(s.url))
    m = index.manifest
    out.print(f"Built a {m.index_type} index of {m.num_concepts:,} concepts with {m.encoder} "
              f"(dim {m.dim}) in {time.perf_counter() - started:.1f} s: {directory}",
              highlight=False, soft_wrap=True)


@link_app.command("query")
def query_cmd(
    text: Annotated[str, typer.Argument(help="A question or any text.")],
    store: StoreOpt = None,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link a text to concepts: exact ConceptNet terms, then fuzzy matches from the index."""
    with open_store(store) as s:
        directory = index or default_index_dir(s.url)
        concept_index = None
        if index_exists(directory):
            encoder = encoder_for_identity(read_manifest(directory).encoder)
            concept_index = ConceptIndex.load(directory, encoder=encoder, store=s)
        else:
            err.print(f"No concept index at {directory}: exact matches only. Run `kgprune link "
                      "build-index` for fuzzy matches.", highlight=False, soft_wrap=True)
        linked = Linker(s, index=concept_index).link(text)
    if as_json:
        print_json([asdict(c) for c in linked])
    else:
        out.print(_linked_table(linked, text))


def _linked_table(linked: list[LinkedConcept], text: str) -> Table:
    table = Table(title=f"Concepts in '{text}'")
    for column in ("mention", "span", "concept", "score", "method"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for c in linked:
        table.add_row(c.mention, f"{c.start}-{c.end}", c.uri, f"{c.score:.3f}", c.method)
    return table
