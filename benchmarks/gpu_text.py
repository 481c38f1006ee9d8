"""GPU rows of the language-model path. First run on a GPU (an H200) on 2026-11-30:
benchmarks/results/cuda/gpu_text.txt.

    python benchmarks/gpu_text.py [--quick]

* attention: ``F.scaled_dot_product_attention`` (causal, float32) forward+backward on
  (8, 8, 512, 64) (quick: (8, 8, 128, 64)): minitorch with our kernels (its four products on our
  batched SGEMM; softmax, masking and the elementwise backward are CuPy expressions), minitorch on
  CuPy's path (cuBLAS), and torch's ``scaled_dot_product_attention`` (which picks its own fused
  kernel: a different algorithm, reported as the baseline to beat, not as a like-for-like).
* train_step: one AdamW step of the addition GPT (2 layers, width 64, batch 256; quick 64).

Timing, fairness (TF32 off) and the row format are ``benchmarks/gpu.py``'s, whose helpers this
file uses.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks import gpu  # noqa: E402  (after the path is set, when run as a script)
from benchmarks.text_cases import _attention_flops, gpt_config  # noqa: E402


def _with_kernels(backend, flag, fn):
    def run():
        backend.use_raw_kernels = flag
        try:
            return fn()
        finally:
            backend.use_raw_kernels = True
    return run


def attention_rows(ctx, quick, peak):
    cp, np, minitorch, backend, kernels, torch = ctx
    shape = (8, 8, 128, 64) if quick else (8, 8, 512, 64)
    rng = np.random.default_rng(0)
    hosts = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    cot_h = rng.standard_normal(shape).astype(np.float32)
    F = minitorch.nn.functional
    qkv = [minitorch.tensor(h, device="cuda", requires_grad=True) for h in hosts]
    cot = minitorch.tensor(cot_h, device="cuda")

    def ours():
        for t in qkv:
            t.grad = None
        out = F.scaled_dot_product_attention(*qkv, is_causal=True)
        out.backward(cot)
        return qkv[0].grad
    timer = gpu.Timer("cupy")
    contenders = {"minitorch kernels": (timer, _with_kernels(backend, True, ours)),
                  "minitorch cupy path": (timer, _with_kernels(backend, False, ours))}
    outs = {k: gpu.to_host(fn()) for k, (_, fn) in contenders.items()}
    if torch is not None:
        tq = [torch.from_numpy(h).cuda().requires_grad_() for h in hosts]
        tcot = torch.from_numpy(cot_h).cuda()

        def theirs():
            for t in tq:
                t.grad = None
            torch.nn.functional.scaled_dot_product_attention(*tq, is_causal=True).backward(tcot)
            return tq[0].grad
        contenders["torch"] = (gpu.Timer("torch"), theirs)
        outs["torch"] = gpu.to_host(theirs())
    ref = outs["minitorch cupy path"]
    check = {f"dQ {k}": gpu.rel_diff(v, ref) for k, v in outs.items()}
    fl = 3 * _attention_flops(*shape)
    baseline = "torch" if torch is not None else "minitorch cupy path"
    return [gpu.make_row("attention", "sdpa causal B{} H{} T{} D{}".format(*shape),
                         "forward+backward", {"shape": list(shape)}, fl,
                         gpu.measure(contenders, quick), baseline, peak, check)]


def gpt_step_rows(ctx, quick, peak):
    cp, np, minitorch, backend, kernels, torch = ctx
    from minitorch.text.gpt import gpt_class
    cfg = gpt_config()
    batch = 64 if quick else 256
    rng = np.random.default_rng(0)
    idx = rng.integers(0, cfg.vocab_size, (batch, cfg.block_size + 1))
    minitorch.manual_seed(0)
    state = {k: np.array(v.detach()) for k, v in gpt_class(minitorch)(cfg).state_dict().items()}
    timer = gpu.Timer("cupy")
    contenders, losses = {}, {}
    for label, flag in (("minitorch kernels", True), ("minitorch cupy path", False)):
        model = gpt_class(minitorch)(cfg)
        model.load_state_dict({k: minitorch.tensor(v) for k, v in state.items()})
        model.to("cuda")
        opt = minitorch.optim.AdamW(model.parameters(), lr=1e-3)
        x = minitorch.tensor(idx[:, :-1], device="cuda")
        y = minitorch.tensor(idx[:, 1:], device="cuda")

        def step(model=model, opt=opt, x=x, y=y):
            opt.zero_grad()
            loss = model.loss(x, y)
            loss.backward()
            opt.step()
            return loss
        fn = _with_kernels(backend, flag, step)
        losses[label] = float(fn().item())
        contenders[label] = (timer, fn)
    if torch is not None:
        model = gpt_class(torch)(cfg).cuda()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = (torch.from_numpy(a).cuda() for a in (idx[:, :-1], idx[:, 1:]))

        def tstep():
            opt.zero_grad()
            loss = model.loss(x, y)
            loss.backward()
            opt.step()
            return loss
        losses["torch"] = float(tstep().item())
        contenders["torch"] = (gpu.Timer("torch"), tstep)
    check = {f"first loss {k}": v for k, v in losses.items()}
    return [gpu.make_row("train_step", f"GPT addition batch {batch}", "step", {"batch": batch},
                         None, gpu.measure(contenders, quick),
                         "torch" if torch is not None else "minitorch cupy path", peak, check)]


def main(argv=None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    ctx = gpu._setup()
    peak = gpu.fp32_peak_tflops(gpu.device_name(ctx[0]))
    rows = attention_rows(ctx, quick, peak) + gpt_step_rows(ctx, quick, peak)
    print(gpu.format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
