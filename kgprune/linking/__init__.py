"""Text to knowledge-graph concepts (spaCy mentions, FAISS over entity embeddings)."""
