"""Dependency floors: the lowest versions ``pyproject.toml`` declares, built into wheelhouses for offline tests.

``python -m devtools.floors --out DIR`` (``make venv`` runs it into ``.venv/wheelhouse``) builds:

- ``core``: every core dependency at its floor (``pyyaml>=6.0.1`` -> ``pyyaml==6.0.1``), with what they pull in;
- ``mcp``: the ``mcp`` extra at its floor, with what it pulls in.

``tests/skills/test_fresh_install.py`` installs the project's wheel from them into fresh virtual environments
(``--no-index``), so a floor that does not work fails a test instead of a user's install.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

__all__ = ["floors", "floor_sets", "build", "main"]

REPO = Path(__file__).resolve().parents[1]


def _pin(requirement: str) -> str:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    lows = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
    if len(lows) != 1:
        raise ValueError(f"{requirement}: expected one lower bound (>=, == or ~=)")
    return f"{req.name}=={lows[0]}"


def floors(pyproject: Path = REPO / "pyproject.toml") -> dict[str, list[str]]:
    """``{"core": [...], "<extra>": [...]}``: each requirement pinned to its floor."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    result = {"core": [_pin(r) for r in project["dependencies"]]}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        pinned = []
        for requirement in requirements:
            if requirement.startswith(project["name"]):
                continue
            pinned.append(_pin(requirement))
        result[extra] = pinned
    return result


def floor_sets(pyproject: Path = REPO / "pyproject.toml") -> dict[str, list[str]]:
    """The wheelhouses built and what each is asked to hold."""
    pins = floors(pyproject)
    return {"core": pins["core"], "mcp": pins["mcp"]}


def build(out: Path, pyproject: Path = REPO / "pyproject.toml") -> None:
    """``pip wheel`` each floor set into ``out/<set>`` (the package index is needed once, here)."""
    for name, requirements in floor_sets(pyproject).items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(folder), *requirements], check=True
        )
        (folder / "FLOORS.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.floors", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="build the wheelhouses here")
    args = parser.parse_args(argv)
    if args.out is None:
        for name, requirements in floor_sets().items():
            print(f"{name}: {' '.join(requirements)}")
        return 0
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
