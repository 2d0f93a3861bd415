"""One module per CLI verb; each exposes ``run(cfg) -> int`` (exit code) and raises UserError for user mistakes."""
