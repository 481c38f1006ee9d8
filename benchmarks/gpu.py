"""GPU benchmarks: our CUDA kernels vs CuPy's path (cuBLAS) vs torch (cuBLAS/cuDNN), float32.

    python benchmarks/gpu.py [--quick] [--json out.json]
    python -m benchmarks --device cuda [--quick]          (the benchmark package's CUDA plug-in)

Cases (issue 4's speed targets):

* SGEMM 4096³ (quick: 2048³): ``kernels.matmul`` vs ``cupy.matmul`` (cuBLAS) vs ``torch.mm``;
* conv2d 3x3, stride 1, padding 1, N=64, C=K in {64, 128, 256}, 32x32 (quick: N=16, C=K=64):
  forward, backward-data and backward-weight each (our kernels vs torch's cuDNN passes,
  ``torch.nn.grad.conv2d_input``/``conv2d_weight``), and forward+backward through
  ``minitorch.nn.functional.conv2d`` with our kernels, with the CuPy path (im2col + cuBLAS) and
  torch;
* one training step (forward, cross-entropy, backward, SGD with momentum) of the seed-001 CIFAR
  Net at batch 256 (quick: 64): minitorch with our kernels, minitorch on CuPy's path, torch eager.

Fairness: torch runs with TF32 off (``torch.backends.cuda.matmul.allow_tf32 = False``,
``torch.backends.cudnn.allow_tf32 = False``, float32 matmul precision "highest"); CuPy uses TF32
only when ``CUPY_TF32=1`` is set, and this script refuses to run then. Timing per METHOD.md: CUDA
events around each call (each library's own events on its own current stream), warm-up first,
contenders alternating sample by sample, the median reported with min and max. Before timing,
every contender's output is compared with the others (‖a − b‖/‖b‖ in the row's ``check``).

TFLOP/s = flops / median; % of peak against the card's fp32 (non-tensor-core) peak, looked up
from the device name (H100 SXM 67, H100 PCIe 51 TFLOP/s; ``--peak-tflops`` overrides).
"""
from __future__ import annotations

import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# fp32 (FFMA, no tensor cores) peak TFLOP/s by a substring of the device name, most specific first
FP32_PEAK_TFLOPS = [
    ("H100 PCIe", 51.0), ("H100 NVL", 60.0), ("H100", 67.0), ("H200", 67.0), ("H800", 67.0),
    ("GH200", 67.0), ("A100", 19.5), ("A10G", 31.2), ("A10", 31.2), ("L40S", 91.6), ("L40", 90.5),
    ("L4", 30.3), ("RTX 4090", 82.6), ("RTX 3090", 35.6), ("V100", 15.7), ("T4", 8.1),
]

NOTES = [
    "torch: TF32 disabled (matmul and cuDNN), float32 matmul precision 'highest'",
    "timing: CUDA events around each call after warm-up; median of alternating samples",
]


def fp32_peak_tflops(device_name: str):
    for key, peak in FP32_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
class Timer:
    """Times a zero-argument callable with one library's CUDA events."""

    def __init__(self, library: str):
        self.library = library
        if library == "torch":
            import torch
            self._event = lambda: torch.cuda.Event(enable_timing=True)
            self._elapsed = lambda s, e: s.elapsed_time(e)
            self.sync = torch.cuda.synchronize
        else:
            import cupy as cp
            self._event = cp.cuda.Event
            self._elapsed = cp.cuda.get_elapsed_time
            self.sync = lambda: cp.cuda.Device().synchronize()

    def sample(self, fn, number: int) -> float:
        """Seconds per call, averaged over ``number`` back-to-back calls."""
        start, end = self._event(), self._event()
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        return self._elapsed(start, end) / 1e3 / number


def measure(contenders: dict, quick: bool) -> dict:
    """{name: stats} for {name: (timer, fn)}, samples alternating between contenders."""
    warmup, repeats = (2, 5) if quick else (3, 15)
    numbers = {}
    for name, (timer, fn) in contenders.items():
        for _ in range(warmup):
            fn()
        timer.sync()
        once = timer.sample(fn, 1)
        numbers[name] = max(1, min(100, int(2e-3 / max(once, 1e-7))))  # >= ~2 ms per sample
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (timer, fn) in contenders.items():
            times[name].append(timer.sample(fn, numbers[name]))
    return {name: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
                   "repeats": len(t), "number": numbers[name], "times_s": t}
            for name, t in times.items()}


def rel_diff(a, b) -> float:
    import numpy as np
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def to_host(x):
    """A NumPy copy of a CuPy array, a torch tensor or a minitorch tensor (on any device)."""
    import numpy as np
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    if hasattr(x, "detach"):                 # minitorch: __array__ copies from the device
        return np.asarray(x.detach())
    return x.get() if hasattr(x, "get") else np.asarray(x)


def make_row(group, name, phase, params, flops, stats, baseline, peak_tflops, check):
    for d in stats.values():
        d["gflops"] = flops / d["median_s"] / 1e9 if flops else None
        d["tflops"] = d["gflops"] / 1e3 if d["gflops"] is not None else None
        d["peak_pct"] = 100 * d["tflops"] / peak_tflops if peak_tflops and d["tflops"] else None
    ratio = {}
    if baseline in stats:
        base = stats[baseline]["median_s"]
        ratio = {n: d["median_s"] / base for n, d in stats.items() if n != baseline}
    return {"id": f"{group} {name} {phase}", "group": group, "name": name, "phase": phase,
            "params": params, "flops": flops, "baseline": baseline, "contenders": stats,
            "ratio": ratio, "check": check}


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
def _setup():
    import cupy as cp
    import numpy as np

    import minitorch
    import minitorch.backend as backend
    from minitorch.backend import kernels
    if os.environ.get("CUPY_TF32", "0") != "0":
        raise SystemExit("benchmarks/gpu.py: CUPY_TF32 is set; unset it for a float32 comparison")
    torch = None
    try:
        import torch as _torch
        if _torch.cuda.is_available():
            torch = _torch
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
            torch.backends.cudnn.benchmark = True
    except ImportError:
        pass
    if torch is None:
        NOTES.append("torch has no CUDA here (a CPU build): cuBLAS through CuPy is the baseline")
    return cp, np, minitorch, backend, kernels, torch


def sgemm_rows(ctx, quick, peak):
    cp, np, minitorch, backend, kernels, torch = ctx
    n = 2048 if quick else 4096
    rng = np.random.default_rng(0)
    a_h = rng.standard_normal((n, n)).astype(np.float32)
    b_h = rng.standard_normal((n, n)).astype(np.float32)
    a, b = cp.asarray(a_h), cp.asarray(b_h)
    cupy_timer = Timer("cupy")
    contenders = {"minitorch kernels": (cupy_timer, lambda: kernels.matmul(a, b)),
                  "cupy (cuBLAS)": (cupy_timer, lambda: cp.matmul(a, b))}
    outs = {"minitorch kernels": kernels.matmul(a, b), "cupy (cuBLAS)": cp.matmul(a, b)}
    if torch is not None:
        ta, tb = torch.from_numpy(a_h).cuda(), torch.from_numpy(b_h).cuda()
        contenders["torch"] = (Timer("torch"), lambda: torch.mm(ta, tb))
        outs["torch"] = torch.mm(ta, tb)
    ref = outs["cupy (cuBLAS)"].get()
    check = {k: rel_diff(to_host(v), ref) for k, v in outs.items()}
    stats = measure(contenders, quick)
    baseline = "torch" if torch is not None else "cupy (cuBLAS)"
    return [make_row("sgemm", f"{n}x{n}x{n}", "forward", {"M": n, "N": n, "K": n}, 2.0 * n ** 3,
                     stats, baseline, peak, check)]


def conv_rows(ctx, quick, peak):
    cp, np, minitorch, backend, kernels, torch = ctx
    rows = []
    n = 16 if quick else 64
    for c in ((64,) if quick else (64, 128, 256)):
        k, h = c, 32
        rng = np.random.default_rng(c)
        x_h = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w_h = (rng.standard_normal((k, c, 3, 3)) / math.sqrt(9 * c)).astype(np.float32)
        b_h = rng.standard_normal(k).astype(np.float32)
        g_h = rng.standard_normal((n, k, h, h)).astype(np.float32)
        x, w, b, g = (cp.asarray(v) for v in (x_h, w_h, b_h, g_h))
        flops = 2.0 * n * k * h * h * c * 9
        params = {"N": n, "C": c, "K": k, "H": h, "W": h, "R": 3, "S": 3, "stride": 1, "padding": 1}
        name = f"N{n} C{c} K{k} {h}x{h} 3x3"
        cupy_timer = Timer("cupy")
        passes = {
            "forward": (lambda x=x, w=w, b=b: kernels.conv2d_forward(x, w, b, 1, 1, 1, 1),
                        lambda T, tx, tw, tb, tg: T.nn.functional.conv2d(tx, tw, tb, padding=1)),
            "backward-data": (lambda g=g, w=w, x=x:
                              kernels.conv2d_backward_data(g, w, x.shape, 1, 1, 1, 1),
                              lambda T, tx, tw, tb, tg: T.nn.grad.conv2d_input(tx.shape, tw, tg,
                                                                                padding=1)),
            "backward-weight": (lambda g=g, x=x, w=w:
                                kernels.conv2d_backward_weight(g, x, w.shape, 1, 1, 1, 1),
                                lambda T, tx, tw, tb, tg: T.nn.grad.conv2d_weight(tx, tw.shape, tg,
                                                                                  padding=1)),
        }
        tin = None
        if torch is not None:
            tin = [torch.from_numpy(v).cuda() for v in (x_h, w_h, b_h, g_h)]
        for phase, (ours, theirs) in passes.items():
            contenders = {"minitorch kernels": (cupy_timer, ours)}
            outs = {"minitorch kernels": to_host(ours())}
            if torch is not None:
                contenders["torch"] = (Timer("torch"), lambda f=theirs, tin=tin: f(torch, *tin))
                outs["torch"] = to_host(theirs(torch, *tin))
            check = {"minitorch kernels vs torch": rel_diff(outs["minitorch kernels"], outs["torch"])
                     } if "torch" in outs else {}
            rows.append(make_row("conv2d", name, phase, params, flops, measure(contenders, quick),
                                 "torch" if torch is not None else "minitorch kernels", peak, check))
        # forward+backward through the Function: our kernels, CuPy's path, torch
        contenders, outs = {}, {}
        for label, flag in (("minitorch kernels", True), ("minitorch cupy path", False)):
            mx = minitorch.tensor(x_h, device="cuda", requires_grad=True)
            mw = minitorch.tensor(w_h, device="cuda", requires_grad=True)
            mb = minitorch.tensor(b_h, device="cuda", requires_grad=True)
            mg = minitorch.tensor(g_h, device="cuda")

            def step(mx=mx, mw=mw, mb=mb, mg=mg, flag=flag):
                backend.use_raw_kernels = flag
                try:
                    mx.grad = mw.grad = mb.grad = None
                    minitorch.nn.functional.conv2d(mx, mw, mb, padding=1).backward(mg)
                finally:
                    backend.use_raw_kernels = True
                return mw.grad
            contenders[label] = (cupy_timer, step)
            outs[label] = to_host(step())
        if torch is not None:
            tx = tin[0].clone().requires_grad_(True)
            tw = tin[1].clone().requires_grad_(True)
            tb = tin[2].clone().requires_grad_(True)

            def tstep(tx=tx, tw=tw, tb=tb, tin=tin):
                tx.grad = tw.grad = tb.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tin[3])
                return tw.grad
            contenders["torch"] = (Timer("torch"), tstep)
            outs["torch"] = to_host(tstep())
        ref = outs.get("torch", outs["minitorch cupy path"])
        check = {f"{k} dw": rel_diff(v, ref) for k, v in outs.items()}
        rows.append(make_row("conv2d", name, "forward+backward", params, 3 * flops,
                             measure(contenders, quick),
                             "torch" if torch is not None else "minitorch cupy path", peak, check))
    return rows


def _net_flops(batch):
    """Forward multiply-adds ×2 of the CIFAR Net (convs and linears), times 3 for a training step
    (forward, backward-data, backward-weight; the first conv's backward-data is skipped by both
    libraries, ignored here)."""
    convs = [(3, 32, 32), (32, 64, 16), (64, 128, 8)]          # (C, K, H=W) with 3x3, padding 1
    linears = [(128 * 4 * 4, 1024), (1024, 512), (512, 10)]
    fwd = sum(2 * batch * k * h * h * c * 9 for c, k, h in convs)
    fwd += sum(2 * batch * i * o for i, o in linears)
    return 3.0 * fwd


def train_step_rows(ctx, quick, peak):
    cp, np, minitorch, backend, kernels, torch = ctx
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from seed_models import cifar_net
    batch = 64 if quick else 256
    rng = np.random.default_rng(0)
    x_h = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y_h = rng.integers(0, 10, batch)
    import torch as torch_cpu  # the CPU build is enough to make the weights
    torch_cpu.manual_seed(0)
    t_model = cifar_net(torch_cpu)
    state = {k: v.detach().numpy() for k, v in t_model.state_dict().items()}
    cupy_timer = Timer("cupy")
    contenders, losses = {}, {}
    for label, flag in (("minitorch kernels", True), ("minitorch cupy path", False)):
        model = cifar_net(minitorch)
        model.load_state_dict(state)
        model.to("cuda")
        opt = minitorch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = minitorch.tensor(x_h, device="cuda"), minitorch.tensor(y_h, device="cuda")

        def step(model=model, opt=opt, x=x, y=y, flag=flag):
            backend.use_raw_kernels = flag
            try:
                opt.zero_grad()
                loss = minitorch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
            finally:
                backend.use_raw_kernels = True
            return loss
        losses[label] = step().item()
        contenders[label] = (cupy_timer, step)
    if torch is not None:
        model = cifar_net(torch).cuda()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.from_numpy(x_h).cuda(), torch.from_numpy(y_h).cuda()

        def tstep():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        losses["torch"] = tstep().item()
        contenders["torch"] = (Timer("torch"), tstep)
    check = {f"first loss {k}": v for k, v in losses.items()}
    return [make_row("train_step", f"cifar_net batch {batch}", "step", {"batch": batch},
                     _net_flops(batch), measure(contenders, quick),
                     "torch" if torch is not None else "minitorch cupy path", peak, check)]


def device_name(cp) -> str:
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    return props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])


def run(quick: bool = False, only=None, peak_tflops=None) -> list:
    """Benchmark rows (the format of benchmarks/runner.py) for the GPU cases."""
    ctx = _setup()
    name = device_name(ctx[0])
    peak = peak_tflops or fp32_peak_tflops(name)
    NOTES.append(f"device: {name}; fp32 peak used for %: "
                 + (f"{peak} TFLOP/s" if peak else "unknown (pass --peak-tflops)"))
    rows = []
    for group, fn in (("sgemm", sgemm_rows), ("conv2d", conv_rows), ("train_step", train_step_rows)):
        if only and not any(t.strip().lower() in group for t in str(only).split(",")):
            continue
        rows.extend(fn(ctx, quick, peak))
    for r in rows:
        r["params"]["device"] = name
    return rows


def format_table(rows) -> str:
    lines = [f"{'case':<44} {'contender':<22} {'median':>10} {'TFLOP/s':>8} {'% peak':>7} "
             f"{'ratio':>7}"]
    for r in rows:
        for cname, d in r["contenders"].items():
            ratio = r["ratio"].get(cname)
            tflops = "" if d["tflops"] is None else f"{d['tflops']:.2f}"
            pct = "" if d["peak_pct"] is None else f"{d['peak_pct']:.1f}%"
            lines.append(f"{r['id']:<44} {cname:<22} {d['median_s'] * 1e3:8.3f}ms "
                         f"{tflops:>8} {pct:>7} {'' if ratio is None else f'{ratio:7.2f}'}")
        if r.get("check"):
            lines.append(f"{'':<44} check: " + ", ".join(f"{k} {v:.2e}" for k, v in r["check"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    import json

    sys.path.insert(0, os.path.join(HERE, ".."))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated groups: sgemm,conv2d,train_step")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    result = run(quick=args.quick, only=args.only, peak_tflops=args.peak_tflops)
    print("\n".join(NOTES))
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"notes": NOTES, "rows": result}, f, indent=1)
