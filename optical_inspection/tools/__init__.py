"""Data tools: a synthetic dataset generator and converters into TAO's dataset layout (numpy + Pillow, no torch)."""
