"""`kgprune vqa make-synthetic OUT`: write the built-in knowledge-grounded VQA benchmark."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, StoreOpt, err, out, print_json, status
from kgprune.kg import bundled
from kgprune.kg.store import default_store_url, open_store
from kgprune.vqa.synthetic import (
    SPLITS,
    VARIANTS,
    BenchmarkManifest,
    check_arguments,
    generate_benchmark,
)


def _counts_table(manifest: BenchmarkManifest, out_dir: Path) -> Table:
    table = Table(title=f"Synthetic VQA ({manifest.variant}, seed {manifest.seed})",
                  caption=str(out_dir))
    table.add_column("what")
    for split in (*SPLITS, "total"):
        table.add_column(split, justify="right")
    table.add_row("images", *(str(manifest.images[s]) for s in SPLITS), str(manifest.n))
    table.add_row("questions", *(str(manifest.questions[s]) for s in SPLITS),
                  str(sum(manifest.questions.values())))
    for relation, total in manifest.relations.items():
        table.add_row(f"  {relation}",
                      *(str(manifest.relations_by_split[s].get(relation, 0)) for s in SPLITS),
                      str(total))
    return table


def make_synthetic_cmd(
    out_dir: Annotated[Path, typer.Argument(
        help="New or empty directory, or an earlier benchmark to replace.")],
    n: Annotated[int, typer.Option("--n", help="Number of images.")],
    seed: Annotated[int, typer.Option("--seed", help="Generation seed.")] = 0,
    variant: Annotated[str, typer.Option(help=f"One of: {', '.join(VARIANTS)}.")] = "standard",
    image_size: Annotated[int, typer.Option("--image-size", help="Image side in pixels.")] = 96,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate the synthetic benchmark from the knowledge graph, reproducibly for a seed."""
    check_arguments(n, variant, image_size)
    url = store or default_store_url()
    started = time.perf_counter()
    with open_store(url) as s:
        if store is None:
            with status("Loading the bundled knowledge graph"):
                bundled.load_if_home(s)
        with status(f"Generating {n} images"):
            manifest = generate_benchmark(out_dir, store=s, n=n, seed=seed, variant=variant,
                                          image_size=image_size)
    if as_json:
        print_json(manifest.to_json())
        return
    out.print(_counts_table(manifest, out_dir))
    err.print(f"Wrote {out_dir} in {time.perf_counter() - started:.1f} s", highlight=False)
