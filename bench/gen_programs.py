"""Write a layered program (superpose.compiler.generators.layered) to a file.

    python bench/gen_programs.py                                # rewrites programs/large.sbp (1,000 gates)
    python bench/gen_programs.py --gates 100000 --out /tmp/g100k.sbp
"""
from __future__ import annotations

import argparse
from pathlib import Path

from superpose.compiler.generators.layered import MIN_GATES, layered_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=1000, help=f"number of named gates (at least {MIN_GATES})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "programs" / "large.sbp")
    args = parser.parse_args()
    if args.gates < MIN_GATES:
        parser.error(f"--gates must be at least {MIN_GATES}, so that every layer has gates")
    args.out.write_text(layered_source(args.gates, args.seed), encoding="utf-8")
    print(f"wrote {args.out} ({args.gates} gates)")


if __name__ == "__main__":
    main()
