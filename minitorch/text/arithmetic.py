"""Multi-digit addition (and subtraction, for fine-tuning) written as text, generated on the fly.

A problem with ``digits`` = 3 reads ``"123+456=9750"``: both operands zero-padded to 3 digits,
then the sum written with its digits *reversed* and zero-padded to 4 (579 → "0579" → "9750").

Why reversed: a left-to-right language model emits the answer one digit at a time. Written
normally, the first digit it must emit (the hundreds... or the thousands carry) depends on every
carry to its right, which it has not written yet; reversed, the first digit out is the units
digit, which needs only the two units digits, and each later digit needs its two operand digits
and the carry from the digit just written, which attention can read off the text so far. The
task then has an exact answer and needs attention (to fetch the right operand digits for each
position), but no long chains of reasoning.

Subtraction (``op="-"``) is written the same way for a ≥ b (``"456-123=3330"``: 333 reversed
and padded); it is the new task the LoRA example adapts the addition model to.

Splits: every (a, b) pair is one problem; a fixed, seeded set of ``n_test`` pairs is held out
and never drawn for training.
"""
from __future__ import annotations

import numpy as np

from .tokenizer import CharTokenizer

ALPHABET = "0123456789+-="


class ArithmeticTask:
    """Problems ``a op b = c`` with ``digits``-digit operands; ``sample_batch`` draws training
    problems (never the held-out ones), ``test_pairs`` are the held-out (a, b)."""

    def __init__(self, digits: int = 3, op: str = "+", n_test: int = 1000, seed: int = 0):
        if op not in "+-" or len(op) != 1:
            raise ValueError(f"ArithmeticTask: op must be '+' or '-', got {op!r}")
        if digits < 1:
            raise ValueError(f"ArithmeticTask: digits must be >= 1, got {digits}")
        self.digits, self.op = digits, op
        self.tokenizer = CharTokenizer(ALPHABET)
        self.answer_len = digits + 1 if op == "+" else digits
        self.prompt_len = 2 * digits + 2          # "aaa+bbb="
        self.seq_len = self.prompt_len + self.answer_len
        top = 10 ** digits
        pairs = self._valid(np.random.default_rng(seed).integers(0, top, (4 * n_test + 64, 2)))
        pairs = np.unique(pairs, axis=0)
        order = np.random.default_rng(seed + 1).permutation(len(pairs))
        if len(pairs) < n_test or n_test * 4 > self.n_problems:
            raise ValueError(f"ArithmeticTask: cannot hold out {n_test} of the {self.n_problems} "
                             f"{digits}-digit problems and keep most for training")
        self.test_pairs = pairs[order[:n_test]]
        self._held_out = set(map(tuple, self.test_pairs.tolist()))

    @property
    def n_problems(self) -> int:
        top = 10 ** self.digits
        return top * top if self.op == "+" else top * (top + 1) // 2

    def _valid(self, pairs):
        if self.op == "-":  # a ≥ b: swap where needed
            pairs = np.sort(pairs, axis=1)[:, ::-1]
        return pairs

    def answer(self, a, b):
        return a + b if self.op == "+" else a - b

    def text(self, a: int, b: int) -> str:
        d = self.digits
        c = str(self.answer(a, b)).zfill(self.answer_len)[::-1]
        return f"{a:0{d}d}{self.op}{b:0{d}d}={c}"

    def encode_pairs(self, pairs) -> np.ndarray:
        """(n, seq_len) token ids of the problems (a, b) in ``pairs``."""
        return self.tokenizer.encode_batch([self.text(int(a), int(b)) for a, b in pairs])

    def sample_pairs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n training pairs drawn uniformly, redrawing any that are held out."""
        top = 10 ** self.digits
        out = []
        while sum(len(p) for p in out) < n:
            pairs = self._valid(rng.integers(0, top, (n, 2)))
            keep = np.array([tuple(p) not in self._held_out for p in pairs.tolist()])
            out.append(pairs[keep])
        return np.concatenate(out)[:n]

    def inputs_and_targets(self, ids: np.ndarray):
        """Next-token training pairs: x = ids[:, :-1], y = ids[:, 1:] with the prompt's
        positions set to −100 (ignored by cross_entropy): the loss is on the answer only."""
        x, y = ids[:, :-1].copy(), ids[:, 1:].copy()
        y[:, : self.prompt_len - 1] = -100
        return x, y

    def sample_batch(self, n: int, rng: np.random.Generator):
        return self.inputs_and_targets(self.encode_pairs(self.sample_pairs(n, rng)))

    def decode_answer(self, ids) -> int | None:
        """The integer an answer's token ids spell (reversed digits), None if not all digits."""
        s = self.tokenizer.decode(ids)
        return int(s[::-1]) if s.isdigit() else None
