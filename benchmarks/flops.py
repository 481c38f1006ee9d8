"""Floating-point operation counts (one multiply-add = 2 FLOPs), for GFLOP/s columns.

    matmul (M×K) @ (K×N):                   2·M·N·K
    linear x (B×in), weight (out×in):       2·B·out·in     (the bias's B·out adds are ignored)
    conv2d (N,C,H,W) * (K,C/g,R,S) -> (N,K,P,Q):   2·N·K·(C/g)·R·S·P·Q

Backward of a product y = a·b needs one product of the same size per operand that requires a
gradient (dA = dY·Bᵀ, dB = Aᵀ·dY), so forward+backward costs (1 + operands needing grad)
× the forward: the usual 3× when both need one, 2× for a first layer whose input needs none.
Pooling, activations, losses and optimizer steps are memory-bound and get no FLOP count.
"""
from __future__ import annotations


def matmul(m: int, n: int, k: int) -> float:
    return 2.0 * m * n * k


def linear(batch: int, in_features: int, out_features: int) -> float:
    return 2.0 * batch * out_features * in_features


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(n: int, c: int, k: int, r: int, s: int, p: int, q: int, groups: int = 1) -> float:
    return 2.0 * n * k * (c // groups) * r * s * p * q


def forward_backward(forward_flops: float, operands_needing_grad: int = 2) -> float:
    """(1 + operands_needing_grad) × the forward count; see the module docstring."""
    return forward_flops * (1 + operands_needing_grad)
