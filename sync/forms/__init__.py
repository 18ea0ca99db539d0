"""The forms: their definitions (the single source), the schemas and fast path derived from them."""
