"""``python -m tao_skill.schema_gen``: write (or ``--check``) the schemas, templates and manifest of skills.

Without arguments: every skill of the bank (``skills/``) whose skill_info.yaml declares a ``schema_source``.
``--out DIR``: that skill folder, from its declared source. ``--config module:Class --out DIR`` converts any
dataclass config, TAO Core's included. Warnings about the config itself (contradictory TAO metadata) go to stderr;
generation goes on. Exit codes: 0 ok, 1 drift found by ``--check``, 2 bad arguments or an unloadable config.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from tao_skill.schema_gen.drift import drift
from tao_skill.schema_gen.generate import generate
from tao_skill.schema_gen.introspect import ConfigLoadError
from tao_skill.schema_gen.source import SchemaSource, declared_sources, read_source

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tao_skill.schema_gen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None, help="dataclass config as module:Class (default: --out's source)")
    parser.add_argument("--out", type=Path, default=None, help="skill folder to write (default: every skill)")
    parser.add_argument("--skill", default=None, help="skill name recorded in the manifest (default: --out's name)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print config warnings")
    return parser


def write_all(files: dict[str, str], root: Path) -> None:
    """Write every file or none: all texts go to temporary files beside their targets first, then each is renamed
    into place, so a failure (disk full, read-only folder) leaves the previous artifacts untouched."""
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, text in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp", newline="\n"
            ) as handle:
                staged.append((Path(handle.name), target))
                handle.write(text)
            os.chmod(handle.name, 0o644)  # temporary files are private (0600); artifacts are ordinary files
    except OSError:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)


def _targets(args: argparse.Namespace) -> list[tuple[Path, str, SchemaSource | None]] | str:
    """(skill folder, config, declared source) to generate, or an error message."""
    if args.config is not None:
        if args.out is None:
            return "--config needs --out (the skill folder to write)"
        return [(args.out, args.config, None)]
    try:
        if args.out is not None:
            source = read_source(args.out)
            if source is None:
                return f"{args.out} declares no schema_source in references/skill_info.yaml; give --config module:Class"
            return [(args.out, source.config, source)]
        found = declared_sources(REPO_ROOT / "skills")
    except (ValidationError, OSError, ValueError) as exc:
        return f"bad schema_source: {str(exc).splitlines()[0]}"
    return [(folder, source.config, source) for folder, source in found] or "no skill declares a schema_source"


def _one(out: Path, config: str, source: SchemaSource | None, args: argparse.Namespace) -> int:
    skill = args.skill or out.resolve().name
    try:
        artifacts = generate(config, skill, source)
    except ConfigLoadError as exc:
        print(f"schema_gen: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        for warning in artifacts.warnings:
            print(f"schema_gen: warning: {warning}", file=sys.stderr)
    if args.check:
        report = drift(artifacts.files, out)
        if not report:
            print(f"schema_gen: {len(artifacts.files)} files up to date in {out.name}/")
            return 0
        print(f"schema_gen: {len(report)} file(s) drifted from {config}; run `make schemas`:", file=sys.stderr)
        for relative, details in sorted(report.items()):
            print(f"  {relative}", file=sys.stderr)
            for detail in details[:20]:
                print(f"    {detail}", file=sys.stderr)
            if len(details) > 20:
                print(f"    ... and {len(details) - 20} more", file=sys.stderr)
        return 1
    try:
        write_all(artifacts.files, out)
    except OSError as exc:
        print(
            f"schema_gen: cannot write to {out}: {exc.strerror or exc} ({exc.filename}); pick a writable folder "
            "with --out",
            file=sys.stderr,
        )
        return 2
    print(f"schema_gen: wrote {len(artifacts.files)} files to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    targets = _targets(args)
    if isinstance(targets, str):
        print(f"schema_gen: {targets}", file=sys.stderr)
        return 2
    return max(_one(out, config, source, args) for out, config, source in targets)


if __name__ == "__main__":
    raise SystemExit(main())
