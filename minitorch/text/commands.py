"""The language-model subcommands of ``python -m minitorch``: ``train-gpt`` (the addition GPT
from scratch, ``minitorch.text.train``) and ``finetune-gpt`` (LoRA onto a new task,
``minitorch.text.finetune``)."""
from __future__ import annotations

import sys


def add_commands(sub) -> list:
    from .train import add_train_gpt_arguments
    train = sub.add_parser("train-gpt", help="train a small GPT on multi-digit addition (text)")
    add_train_gpt_arguments(train)
    from .finetune import add_finetune_gpt_arguments
    finetune = sub.add_parser("finetune-gpt", help="LoRA-fine-tune the addition GPT to "
                                                   "subtraction, against full fine-tuning and "
                                                   "training from scratch")
    add_finetune_gpt_arguments(finetune)
    return [train, finetune]


def run(args) -> int:
    if args.command == "train-gpt":
        from .train import run_train_gpt
        result = run_train_gpt(args)
        acc = result["test_acc"]
    else:
        from .finetune import run_finetune_gpt
        result = run_finetune_gpt(args)
        acc = result["lora"]["after"] if "lora" in result else 1.0
    if args.expect_accuracy is not None and acc < args.expect_accuracy:
        print(f"FAILED: test exact-match {100 * acc:.2f}% is below the expected "
              f"{100 * args.expect_accuracy:.2f}%", file=sys.stderr)
        return 1
    return 0
