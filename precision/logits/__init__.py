"""A user's logits, row by row: per-row saturation, logits files, the logits analysis, `watch` for a live loop and
its adapters for attack libraries."""
