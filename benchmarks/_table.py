"""The one row type every benchmark returns, and the table `make bench` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """One measurement; ``ratio`` compares it with a baseline measured in the same run (or a stated figure)."""

    group: str
    name: str
    value: float
    unit: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


def format_table(rows: list[Row]) -> str:
    """Render rows as a fixed-width text table."""
    header = ("group", "measurement", "value", "unit", "vs", "ratio", "target", "met")
    body = [
        (
            row.group,
            row.name,
            f"{row.value:.4g}",
            row.unit,
            row.baseline,
            "" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target,
            "" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
