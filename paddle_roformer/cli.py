"""The ``paddle-roformer`` command: a table of subcommands, each a thin wrapper over one module.

A subcommand's module exposes a function that adds its arguments to a parser and one that runs it
(``add_arguments(parser)`` and ``run(args) -> int`` unless the table names others). Only the
module of the subcommand being run is imported, so ``paddle-roformer list`` starts without Paddle.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import List, Optional

from .runtime import set_num_threads


@dataclass(frozen=True)
class Command:
    module: str  # importable module defining the two functions below
    help: str
    add_arguments: str = "add_arguments"  # (parser) -> None
    run: str = "run"  # (args) -> exit status


COMMANDS = {
    "convert": Command("paddle_roformer.convert",
                       "convert a PyTorch (Hugging Face) RoFormer checkpoint to a Paddle directory"),
    "list": Command("paddle_roformer.cli", "list the registered pretrained names"),
    "fill-mask": Command("paddle_roformer.pipelines", "print the top-k tokens for each [MASK] in a text",
                         "add_fill_mask_arguments", "run_fill_mask"),
    "predict": Command("paddle_roformer.pipelines",
                       "text or token classification of each line of a file (or stdin), as JSON lines",
                       "add_predict_arguments", "run_predict"),
    "train": Command("paddle_roformer.finetune", "fine-tune on a task from a YAML config (configs/tasks/) or task name",
                     "add_train_arguments", "run_train"),
    "eval": Command("paddle_roformer.finetune", "evaluate a saved model on a split of a task config's data",
                    "add_eval_arguments", "run_eval"),
    "export": Command("paddle_roformer.inference",
                      "export a model for Paddle Inference (and ONNX) with dynamic batch and length"),
    "similar": Command("paddle_roformer.sim",
                       "generate sentences similar to a text with a RoFormer-Sim model, ranked by similarity",
                       "add_similar_arguments", "run_similar"),
    "embed": Command("paddle_roformer.sim", "sentence embeddings (.npy) for a file of lines, optionally an index",
                     "add_embed_arguments", "run_embed"),
    "search": Command("paddle_roformer.sim", "the texts of a saved index closest to a query",
                      "add_search_arguments", "run_search"),
}


# ---------------------------------------------------------------------------- `list`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", help="shell wildcard filtering the names, e.g. '*char*'")


def run(args: argparse.Namespace) -> int:
    from .registry import get_pretrained, list_pretrained

    for name in list_pretrained(args.pattern):
        print(f"{name:40s} {get_pretrained(name).description}")
    return 0


# ---------------------------------------------------------------------------- the table


def build_parser(selected: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of ``selected`` (the other subcommands only list their help)."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="paddle-roformer", description="RoFormer for PaddlePaddle")
    parser.add_argument("--version", action="version", version=f"paddle-roformer {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        if name == selected:
            getattr(importlib.import_module(command.module), command.add_arguments)(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(selected if selected in COMMANDS else None).parse_args(argv)
    command = COMMANDS[args.command]
    if getattr(args, "threads", None) is None:
        set_num_threads()  # every core, or OMP_NUM_THREADS: Paddle would use one otherwise
    return getattr(importlib.import_module(command.module), command.run)(args)


if __name__ == "__main__":
    sys.exit(main())
