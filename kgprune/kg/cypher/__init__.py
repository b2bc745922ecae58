"""Cypher statements, one module per backend dialect."""
