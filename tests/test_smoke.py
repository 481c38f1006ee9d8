import numpy as np
from torch_compare import check


def test_add_mul_matmul_chain():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    for dt in ("float64", "float32"):
        check(lambda L, x, w, b: ((x @ w + b) * x.sum()).tanh(), x, w, b, dtype=dt)
