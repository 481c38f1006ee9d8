"""``minitorch.text``: a character tokenizer, the addition task (shipped as code, no download),
a small decoder-only GPT, and its training and LoRA fine-tuning commands."""
from .tokenizer import CharTokenizer
from .arithmetic import ArithmeticTask
from .gpt import GPT, GPTConfig

__all__ = ["CharTokenizer", "ArithmeticTask", "GPT", "GPTConfig"]
