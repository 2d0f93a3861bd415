"""Schema generator: dataclass configs -> JSON Schema, YAML spec templates and a manifest."""
