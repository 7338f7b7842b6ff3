"""The ``paddle-roformer`` command: thin subcommands over the library."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import convert


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="paddle-roformer", description="RoFormer for PaddlePaddle")
    commands = parser.add_subparsers(dest="command", required=True)
    convert.add_arguments(commands.add_parser(
        "convert", help="convert a PyTorch (Hugging Face) RoFormer checkpoint to a Paddle directory",
        description=convert.__doc__.splitlines()[0]))
    commands.add_parser("list", help="list the registered pretrained names")
    args = parser.parse_args(argv)
    if args.command == "convert":
        return convert.run(args)
    from .registry import get_pretrained, list_pretrained

    for name in list_pretrained():
        print(f"{name:40s} {get_pretrained(name).description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
