"""Schema generator: dataclass configs -> JSON Schema 2020-12 per action, YAML spec templates and a manifest."""

__version__ = "0.1.0"
