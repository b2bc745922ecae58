"""Streaming readers of the real dump formats (ConceptNet assertions, Visual Genome JSON)."""
