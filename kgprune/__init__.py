"""kgprune: knowledge-graph-guided structured pruning of multimodal language models."""

__version__ = "0.1.0"
