"""Embedded Optical Inspection trainer: TAO-compatible CLI verbs, spec keys and outputs, on CPU or GPU."""
