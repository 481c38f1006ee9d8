"""A character-level tokenizer: one token id per character of a fixed alphabet."""
from __future__ import annotations

import numpy as np


class CharTokenizer:
    """``CharTokenizer("0123456789+-=")``: id i is the i-th character of ``chars``.

    ``encode("12+3")`` → a list of ids; ``decode(ids)`` → the string. An unknown character is
    an error naming it and its position, not a silent id.
    """

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise ValueError(f"CharTokenizer: repeated characters in {chars!r}")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as e:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            raise ValueError(f"CharTokenizer: character {e.args[0]!r} at position {pos} of "
                             f"{text!r} is not in the alphabet {self.chars!r}") from None

    def encode_batch(self, texts) -> np.ndarray:
        """(len(texts), length) int64 ids of equal-length strings."""
        return np.array([self.encode(t) for t in texts], dtype=np.int64)

    def decode(self, ids) -> str:
        ids = np.asarray(ids).reshape(-1).tolist()
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:
            raise ValueError(f"CharTokenizer: id {bad[0]} is outside the vocabulary of "
                             f"{len(self.chars)}")
        return "".join(self.chars[i] for i in ids)
