"""Knowledge-grounded VQA: datasets, metrics, model adapters, the knowledge loss."""
