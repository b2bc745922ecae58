"""Model adapters: one protocol over the built-in model and Hugging Face VQA architectures."""
