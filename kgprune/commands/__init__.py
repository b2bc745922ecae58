"""Command groups of the `kgprune` CLI, one module each; `kgprune.cli` assembles them."""
