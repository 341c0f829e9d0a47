"""The `tmrl` command line: one entry point, one sub-command per job."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from tmrl_learning.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tmrl", description="Timestep-modulated RL for robot policies.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="short end-to-end fine-tuning run on the default simulated task")
    from tmrl_learning.demo import add_demo_arguments

    add_demo_arguments(demo)
    demo.set_defaults(func=_demo)

    from tmrl_learning.csp.cli import add_csp_commands
    from tmrl_learning.data.cli import add_data_commands
    from tmrl_learning.libero.demos import add_libero_commands
    from tmrl_learning.tmrl.cli import add_tmrl_commands
    from tmrl_learning.vla.cli import add_vla_commands

    add_data_commands(sub)
    add_csp_commands(sub)
    add_tmrl_commands(sub)
    add_libero_commands(sub)
    add_vla_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"tmrl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
