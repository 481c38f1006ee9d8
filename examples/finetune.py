"""Fine-tuning on the embedded digits: pretrain on 0-4, then reuse the network for 5-9.

    python examples/finetune.py                          # simple_cnn, 10 images per new class
    python examples/finetune.py --shots 5 --unfreeze-epochs 0 --checkpoint /tmp/pre.mt

What it teaches: the other half of the seed documents' title. A network is pretrained on task A
(digits 0-4) and saved with ``minitorch.save``; it is loaded with ``minitorch.load``, its last
``Linear`` (the head) is replaced for task B (digits 5-9, few images per class), the rest is
frozen with ``requires_grad_(False)`` and only the head trains; then optionally everything is
unfrozen with a lower learning rate for the backbone (two param groups). Accuracy on task B's
held-out digits is printed before fine-tuning, after each phase, and against a model trained
from scratch on the same images with the same number of epochs.

This file is a thin wrapper: the arguments are those of
``minitorch.training.finetune.add_finetune_arguments`` and the work is
``minitorch.training.finetune.run_finetune`` (the same as ``python -m minitorch finetune``);
read that module for the code and the options' meaning.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from minitorch.training.finetune import add_finetune_arguments, run_finetune


def main(argv=None) -> dict:
    """Parse ``argv`` (``sys.argv[1:]`` when None), run the fine-tuning, return its accuracies."""
    parser = argparse.ArgumentParser(
        description="Pretrain on digits 0-4, fine-tune a new head on digits 5-9 (few shots), "
                    "and compare with training from scratch.")
    add_finetune_arguments(parser)
    return run_finetune(parser.parse_args(argv))


if __name__ == "__main__":
    main()
