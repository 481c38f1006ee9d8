"""``python -m minitorch train|finetune``: see ``minitorch/cli.py``."""
import sys

from .cli import main

sys.exit(main())
