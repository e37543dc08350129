"""``python -m steplab.verify [family]``: run the registered paper claims and print a table.

Exit status 0 when every claim holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from steplab import claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steplab.verify", description=__doc__)
    parser.add_argument("family", nargs="?", choices=list(claims.CLAIM_MODULES), help="only this family")
    args = parser.parse_args(argv)
    available = claims.load(args.family)
    missing = [f for f in claims.CLAIM_MODULES if f not in available and args.family in (None, f)]
    for family in missing:
        print(f"({family}: not built yet, no claims registered)")

    def progress(i, n, claim):
        print(f"[{i + 1}/{n}] {claim.id} ...", file=sys.stderr, flush=True)

    outcomes = claims.run_all(args.family, on_progress=progress)
    if not outcomes:
        print("no claims registered")
        return 1
    print(claims.format_table(outcomes))
    return 0 if all(o.result.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
