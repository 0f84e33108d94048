"""Command line: `python -m playground list | bench`."""
from __future__ import annotations

import argparse
import sys


def cmd_list(args) -> int:
    from . import checkpoints

    names = checkpoints.available()
    if not names:
        print("No shipped models yet: assets/checkpoints/ holds no checkpoint cards.")
        return 0
    for name in names:
        card = checkpoints.card(name)
        print(f"{name:28s} {card['family']:10s} {card['dataset']:12s} {card.get('summary', '')}")
    return 0


def cmd_bench(args) -> int:
    from . import bench

    bench.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground", description="Generative Models Playground")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the shipped models").set_defaults(run=cmd_list)
    commands.add_parser("bench", help="print speed figures measured on this machine").set_defaults(run=cmd_bench)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
