"""The benchmark package runs and writes well-formed reports (its speed is not tested).

One CLI run in quick mode on a tiny subset (``--only``) writes JSON, Markdown and PNGs; the tests
read them back: keys, numeric fields, ratio = ratio of medians, GFLOP/s = FLOPs / median. The
building blocks (timing, FLOP counts, case selection, the CUDA refusal) are checked in-process.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import minitorch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import __main__ as cli
from benchmarks import cases, flops, load, peak, report, runner, threads, timing

ONLY = "overhead 1-element add forward+backward,matmul 256x256x256,cross_entropy (64, 10) forward"
REPEATS = 3


def run_cli(out):
    """``python -m benchmarks --quick`` on the tiny subset ONLY, one thread per library (the
    test runs beside other test workers)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                        "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--device", "cpu", "--quick", "--only", ONLY,
         "--out", str(out), "--peak-gflops", "100", "--repeats", str(REPEATS), "--threads", "1",
         "--force"],  # the test suite itself loads the machine
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_quick_cli_run_writes_wellformed_reports(tmp_path):
    # one subprocess run (a few seconds, most of it importing torch), checked in four parts
    stdout = run_cli(tmp_path)
    with open(tmp_path / "bench_cpu.json") as f:
        run = json.load(f)
    check_files(tmp_path, stdout)
    check_header(run)
    check_rows(run["rows"])
    check_markdown((tmp_path / "bench_cpu.md").read_text(), run["rows"])


def check_files(out, stdout):
    names = sorted(os.listdir(out))
    pngs = ["bench_cpu_matmul.png", "bench_cpu_ratio.png"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the charts are skipped with a note
        assert names == ["bench_cpu.json", "bench_cpu.md"]
        assert "matplotlib is not installed, PNG charts skipped" in stdout
    else:
        assert names == ["bench_cpu.json", "bench_cpu.md", *pngs]
        for png in pngs:
            with open(out / png, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "| op | case | pass |" in stdout


def check_header(run):
    assert run["device"] == "cpu" and run["mode"] == "quick" and run["schema"] == 1
    assert run["duration_s"] > 0
    m = run["machine"]
    assert m["cpu"]["model"] and m["cpu"]["logical_cores"] >= m["cpu"]["physical_cores"] >= 1
    assert m["libraries"]["numpy"] == np.__version__
    assert m["libraries"]["torch"] == torch.__version__
    assert isinstance(m["gpus"], list) and m["date_utc"].endswith("UTC")
    t = run["threads"]
    assert t["torch"] == t["numpy_blas"] == 1  # both libraries get the same thread count
    assert t["OMP_WAIT_POLICY"] == "PASSIVE" and t["OPENBLAS_THREAD_TIMEOUT"] == "4"
    assert t["minitorch"] == 1  # minitorch's intra-op threads follow OMP_NUM_THREADS too
    s = run["settings"]
    assert s["peak_gflops"] == 100 and s["only"] == ONLY and s["threads_requested"] == 1
    assert s["plan"]["min_repeats"] == s["plan"]["max_repeats"] == REPEATS
    assert s["memory_method"] in ("VmHWM reset", "ru_maxrss delta")


def check_rows(rows):
    assert [r["id"] for r in rows] == [
        "overhead 1-element add forward+backward", "matmul 256x256x256 forward",
        "matmul 256x256x256 forward+backward", "cross_entropy (64, 10) forward",
        "cross_entropy (64, 10) forward+backward"]
    for r in rows:
        assert "error" not in r, r.get("error")
        assert r["baseline"] == "torch" and r["phase"] in cases.PHASES
        assert set(r["contenders"]) == {"minitorch", "torch"}
        for d in r["contenders"].values():
            times = d["times_s"]
            assert len(times) == d["repeats"] == REPEATS and d["number"] >= 1
            assert all(isinstance(x, float) and x > 0 for x in times)
            assert d["median_s"] == pytest.approx(float(np.median(times)), rel=1e-12)
            assert d["min_s"] == min(times) and d["max_s"] == max(times)
            assert d["min_s"] <= d["median_s"] <= d["max_s"]
            assert isinstance(d["peak_rss_bytes"], int) and d["peak_rss_bytes"] >= 0
            if r["flops"] is None:
                assert d["gflops"] is None and d["peak_pct"] is None
            else:
                assert d["gflops"] == pytest.approx(r["flops"] / d["median_s"] / 1e9, rel=1e-12)
                assert d["peak_pct"] == pytest.approx(d["gflops"], rel=1e-12)  # peak = 100
        c = r["contenders"]
        assert r["ratio"] == {"minitorch": pytest.approx(
            c["minitorch"]["median_s"] / c["torch"]["median_s"], rel=1e-12)}
    assert rows[1]["flops"] == 2 * 256**3 and rows[2]["flops"] == 3 * 2 * 256**3
    assert rows[1]["params"] == {"m": 256, "n": 256, "k": 256}


def check_markdown(md, rows):
    assert md.startswith("# minitorch vs torch: CPU benchmark (quick mode)")
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| op | case | pass |"))
    cols = [c.strip() for c in lines[header].strip("|").split("|")]
    assert cols[3:6] == ["minitorch median [min–max]", "torch median [min–max]",
                         "minitorch/torch"]
    assert "minitorch % peak" in cols
    body = lines[header + 2: header + 2 + len(rows)]
    for line, row in zip(body, rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(cols)
        assert cells[:3] == [row["group"], row["name"], row["phase"]]
        assert float(cells[5]) == pytest.approx(row["ratio"]["minitorch"], abs=0.006)
    assert "geometric mean per op" in md and "Largest gaps" in md


def synthetic_run(rows):
    return {"device": "cpu", "mode": "quick", "rows": rows, "settings": {},
            "machine": {"date_utc": "2026-01-01 00:00 UTC", "gpus": [], "libraries": {},
                        "cpu": {"model": "x", "physical_cores": 1, "logical_cores": 1}}}


# ---- building blocks, in-process ---------------------------------------------------------------
class FakeClock:
    """Each call of a contender 'takes' its fixed cost; records the calling order."""
    name = "fake"

    def __init__(self, cost):
        self.cost, self.order = cost, []

    def time(self, fn, number):
        name = fn()
        self.order.append(name)
        return self.cost[name] * number


def test_measure_alternates_contenders_and_sizes_repeats():
    clock = FakeClock({"a": 0.01, "b": 0.02})
    plan = timing.Plan(warmup=2, min_repeats=3, max_repeats=50, budget_s=0.1, min_sample_s=1e-3)
    stats = timing.measure({"a": lambda: "a", "b": lambda: "b"}, plan, clock)
    # warm-up: two timed calls each; then budget 0.1 s / slowest sample 0.02 s = 5 rounds,
    # in order a b, b a, a b, ...
    assert clock.order[:4] == ["a", "a", "b", "b"]
    assert clock.order[4:] == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert stats["a"].times_s == [0.01] * 5 and stats["b"].median_s == 0.02
    # a fast op runs several times per sample so one sample lasts min_sample_s
    stats = timing.measure({"a": lambda: "a"}, timing.Plan(min_sample_s=0.05, budget_s=0),
                           FakeClock({"a": 0.01}))
    assert stats["a"].number == 5 and len(stats["a"].times_s) == timing.Plan().min_repeats


def test_rss_probe_sees_a_large_allocation():
    probe = timing.RssProbe()
    grown = probe.measure(lambda: np.ones(48 * 2**20 // 8))  # 48 MiB touched
    assert grown >= 40 * 2**20 or probe.method == "ru_maxrss delta"
    assert grown < 200 * 2**20


def test_make_row_ratio_and_gflops():
    case = cases.Case("matmul", "2x3x4", "forward", dict, None, flops=48.0, params={"m": 2})
    stats = {"minitorch": timing.Stats([3.0, 1.0, 2.0]), "torch": timing.Stats([4.0, 8.0, 5.0])}
    row = runner.make_row(case, stats, peak_gflops=1e-8)
    assert row["ratio"] == {"minitorch": 2.0 / 5.0}
    assert row["contenders"]["minitorch"]["gflops"] == 48.0 / 2.0 / 1e9
    assert row["contenders"]["torch"]["peak_pct"] == pytest.approx(100 * 48 / 5 / 1e9 / 1e-8)


def test_flop_counts():
    assert flops.matmul(2, 3, 4) == 48
    assert flops.forward_backward(10.0) == 30.0 and flops.forward_backward(10.0, 1) == 20.0
    for size, k, s, p in [(28, 3, 2, 1), (56, 1, 1, 0), (7, 3, 1, 1), (112, 3, 2, 1)]:
        x = torch.zeros(1, 1, size, size)
        out = torch.nn.functional.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p)
        assert out.shape[-1] == flops.conv_output_size(size, k, s, p)
    assert flops.conv2d(8, 64, 128, 3, 3, 14, 14) == 2 * 8 * 128 * 64 * 9 * 14 * 14


def test_case_list_and_selection():
    full, quick = cases.cpu_cases(), cases.cpu_cases(quick=True)
    ids = [c.id for c in full]
    assert len(ids) == len(set(ids)) and {c.id for c in quick} < set(ids)
    groups = {c.group for c in full}
    assert groups == {"overhead", "matmul", "linear", "conv2d", "max_pool2d", "cross_entropy",
                      "attention", "optimizer", "train_step"}
    assert {c.group for c in quick} == groups
    assert [c.id for c in cases.select(full, "MATMUL 4096")] == [
        "matmul 4096x4096x4096 forward", "matmul 4096x4096x4096 forward+backward"]
    assert cases.select(full, None) == full and cases.select(full, "no such case") == []
    for c in full:
        assert c.phase in cases.PHASES and (c.flops is None or c.flops > 0)


@pytest.mark.parametrize("case", [c for c in cases.cpu_cases(quick=True)
                                  if c.group not in ("train_step", "optimizer")],
                         ids=lambda c: c.id)
def test_quick_cases_do_the_same_work_in_both_libraries(case):
    data = case.inputs()
    outs = {}
    for name, L in (("minitorch", minitorch), ("torch", torch)):
        out = case.build(L, data)()
        outs[name] = np.asarray(out.detach()) if name == "minitorch" else out.detach().numpy()
    assert outs["minitorch"].shape == outs["torch"].shape
    np.testing.assert_allclose(outs["minitorch"], outs["torch"], rtol=1e-4, atol=1e-4)


def test_model_cases_do_the_same_work_in_both_libraries():
    quick = cases.cpu_cases(quick=True)
    adam = cases.select(quick, "optimizer")[0]
    data = adam.inputs()
    assert adam.params["parameters"] == 2_721_354  # the CIFAR Net's weights and biases
    updated = {}
    for name, L in (("minitorch", minitorch), ("torch", torch)):
        step = adam.build(L, data)
        step()
        updated[name] = [np.asarray(p.detach()) if name == "minitorch" else p.detach().numpy()
                         for p in step.__self__.param_groups[0]["params"]]
    for m, t in zip(*updated.values(), strict=True):
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6)
    # a SimpleCNN training step (no dropout): the same loss from the same weights and data
    train = cases.select(cases.train_step_cases(batches=[(4, True)]), "SimpleCNN")[0]
    assert train.params["batch"] == 4
    data = train.inputs()
    losses = [float(train.build(L, data)().item()) for L in (minitorch, torch)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_cuda_without_a_gpu_exits_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(minitorch.cuda, "is_available", staticmethod(lambda: False))
    with pytest.raises(SystemExit, match="CUDA is not available"):
        cli.cuda_rows(cli.parse_args(["--device", "cuda"]))


def test_charts_are_skipped_with_a_note_without_matplotlib(monkeypatch, tmp_path):
    case = cases.Case("matmul", "2x3x4", "forward", dict, None, flops=48.0, params={"m": 2})
    row = runner.make_row(case, {"minitorch": timing.Stats([2.0]), "torch": timing.Stats([1.0])})
    run = synthetic_run([row])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    notes = []
    paths = report.write_all(run, str(tmp_path), log=notes.append)
    assert sorted(os.path.basename(p) for p in paths) == ["bench_cpu.json", "bench_cpu.md"]
    assert len(notes) == 1 and "matplotlib is not installed" in notes[0]


def test_error_rows_are_reported_not_raised(tmp_path):
    def boom(L, data):
        raise RuntimeError("unsupported")
    case = cases.Case("matmul", "broken", "forward", dict, boom)
    row = runner.run_case(case, {"minitorch": minitorch, "torch": torch}, timing.Plan())
    assert row["error"] == "RuntimeError: unsupported" and row["contenders"] == {}
    md = report.markdown(synthetic_run([row]))
    assert "| matmul | broken | forward | error: RuntimeError: unsupported |" in md


def test_rows_with_fewer_keys_are_completed(tmp_path):
    # e.g. from the GPU plug-in: medians only; the ratio and FLOP/s follow from them
    rows = report.normalize([{"group": "matmul", "name": "4096", "phase": "forward",
                              "flops": 2e13, "check": {"ours": 1.5e-7},
                              "contenders": {"ours": {"median_s": 3.0, "peak_bytes": 2**20},
                                             "cublas": {"median_s": 2.0},
                                             "torch": {"median_s": 2.0}}}])
    r = rows[0]
    assert r["id"] == "matmul 4096 forward" and r["baseline"] == "torch"
    assert r["ratio"] == {"ours": 1.5, "cublas": 1.0}
    assert r["contenders"]["ours"]["gflops"] == 2e13 / 3.0 / 1e9
    md = report.markdown(dict(synthetic_run(rows), device="cuda"))
    assert "| ours/torch | cublas/torch | ours TFLOP/s |" in md  # above 1000 GFLOP/s
    assert "| ours peak memory |" in md and "% peak" not in md
    assert "| matmul | 4096 | forward | 3.00 s [3.00 s–3.00 s] |" in md
    assert "| 1.50 | 1.00 | 6.67 | 10.00 | 10.00 | 1.0 |  |  |" in md
    assert "- matmul 4096 forward: ours 1.50e-07" in md


def test_thread_defaults(monkeypatch):
    for var in (*threads.THREAD_VARS, "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    n = threads.physical_cores()
    assert 1 <= n <= os.cpu_count()
    assert threads.configure() == n  # torch's default: the physical cores
    assert all(os.environ[v] == str(n) for v in threads.THREAD_VARS)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"  # NumPy's BLAS workers do not spin
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")
    assert threads.configure() == 3 and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # user's wins
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"
    assert threads.configure(5) == 5 and os.environ["OPENBLAS_NUM_THREADS"] == "5"
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        threads.configure(0)


# ---- load discipline and the fp32 peak (mocked inputs) ------------------------------------------
def test_load_limit_refuses_a_busy_start_unless_forced():
    assert load.limit(2) == 1.0 and load.LIMIT_PER_CORE == 0.5
    assert not load.is_busy(1.0, 2) and load.is_busy(1.01, 2) and not load.is_busy(None, 2)
    never = lambda: pytest.fail("the others' CPU use is sampled only when the load is high")
    assert load.check_start(0.4, 2, force=False, others=never) is None
    busy_now, unknown, quiet_now = (lambda: 1.8), (lambda: None), (lambda: 0.1)
    for others in (busy_now, unknown):
        with pytest.raises(SystemExit, match=r"load average 3\.50 is above 1\.00 .*--force"):
            load.check_start(3.5, 2, force=False, others=others)
        note = load.check_start(3.5, 2, force=True, others=others)
        assert "3.50" in note and "flagged" in note
    # a high average left by work that has ended (e.g. the previous thread count's run)
    note = load.check_start(1.9, 2, force=False, others=quiet_now)
    assert "other processes use 0.10 cores now" in note
    # rows: the others' CPU use decides when known; the load average when not
    assert load.bracket(0.2, 0.3, 2) == {"before": 0.2, "after": 0.3, "others_cores": None,
                                          "limit": 1.0, "flagged": False}
    assert load.bracket(0.2, 1.7, 2)["flagged"] and load.bracket(2.5, 0.1, 2)["flagged"]
    assert not load.bracket(1.9, 2.0, 2, others=0.3)["flagged"]  # our own 2 threads' load
    assert load.bracket(0.2, 0.3, 2, others=1.4)["flagged"]


def test_others_cpu_use_excludes_our_own():
    # (wall s, machine busy CPU-s, own CPU-s): 4 s in which the machine was busy 6 CPU-s, of
    # which 4 were ours -> the others used 0.5 cores
    assert load.others_cores((10.0, 100.0, 1.0), (14.0, 106.0, 5.0)) == 0.5
    assert load.others_cores((10.0, 100.0, 1.0), (14.0, 103.0, 5.0)) == 0.0  # clock granularity
    assert load.others_cores(None, (14.0, 106.0, 5.0)) is None
    assert load.others_cores((10.0, 1.0, 1.0), (10.0, 1.0, 1.0)) is None
    sample = load.cpu_sample()
    if sample is not None:  # Linux: a busy loop of ours is not counted as the others'
        t_end = sample[0] + 0.3
        while load.cpu_sample()[0] < t_end:
            pass
        assert load.others_cores(sample, load.cpu_sample()) < load.cores()


def test_cli_refuses_a_busy_machine(monkeypatch):
    for var in (*threads.THREAD_VARS, "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT"):  # restored
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    monkeypatch.setattr(load, "read", lambda: 99.0)
    monkeypatch.setattr(load, "sample_others", lambda: 5.0)
    with pytest.raises(SystemExit, match="pass --force"):
        cli.main(["--only", "overhead 1-element add forward", "--threads", "1",
                  "--repeats", "1", "--out", os.devnull])


def test_rows_record_and_flag_their_load(monkeypatch):
    monkeypatch.setattr(load, "cores", lambda: 2)
    monkeypatch.setattr(load, "cpu_sample", lambda: None)  # the load average decides
    readings = iter([0.1, 0.2, 0.3, 1.6])  # before/after of two rows; the second goes busy
    case = cases.Case("matmul", "x", "forward", dict, lambda L, data: (lambda: None))
    rows, _ = runner.run_cases([case, case], timing.Plan(min_repeats=1, max_repeats=1,
                                                         budget_s=0.0),
                               libs={"minitorch": minitorch, "torch": torch}, memory=False,
                               log=None, read_load=lambda: next(readings))
    assert [r["load"] for r in rows] == [
        {"before": 0.1, "after": 0.2, "others_cores": None, "limit": 1.0, "flagged": False},
        {"before": 0.3, "after": 1.6, "others_cores": None, "limit": 1.0, "flagged": True}]
    run = synthetic_run(rows)
    run["machine"]["load_average"] = [0.3, 0.2, 0.1]
    md = report.markdown(run)
    assert "| load |" in md and "0.10→0.20 |" in md and "0.30→1.60 ⚠ |" in md
    assert "1 of 2 rows measured above the load limit 1" in md
    assert "LOADED" in runner.progress_line(2, 2, rows[1])
    assert "LOADED" not in runner.progress_line(1, 2, rows[0])
    rows[0]["load"] = load.bracket(1.5, 1.9, 2, others=0.12)  # our own load, others quiet
    md = report.markdown(synthetic_run(rows))
    assert "1.50→1.90 (others 0.12) |" in md and "others 0.12" in runner.progress_line(1, 2, rows[0])


@pytest.mark.parametrize("flags, vendor, family, per_cycle", [
    ("fpu sse4_2 avx avx2 fma avx512f avx512bw", "GenuineIntel", "6", 64),
    ("fpu sse4_2 avx avx2 fma avx512f", "AuthenticAMD", "25", 32),   # Zen 4
    ("fpu sse4_2 avx avx2 fma avx512f", "AuthenticAMD", "26", 64),   # Zen 5
    ("fpu sse4_2 avx avx2 fma", "AuthenticAMD", "23", 32),
    ("fpu sse4_2 avx", "GenuineIntel", "6", 16),
    ("fpu sse4_2", "GenuineIntel", "6", 8),
])
def test_peak_from_cpu_flags_and_clock(flags, vendor, family, per_cycle):
    info = {"flags": flags, "vendor_id": vendor, "cpu family": family, "cpu MHz": "2600.000"}
    for n in (1, 2):
        gflops, text = peak.from_cpuinfo(info, n)
        assert gflops == pytest.approx(per_cycle * 2.6 * n)
        assert f"{per_cycle} FLOP/cycle" in text and "2600 MHz" in text
    assert peak.from_cpuinfo({"flags": flags}, 1) == (None, "no 'cpu MHz' in /proc/cpuinfo")


def test_peak_source_is_recorded(monkeypatch):
    args = cli.parse_args(["--peak-gflops", "100"])
    assert cli.resolve_peak(args, 1) == (100, "given", "given: 100 GFLOP/s")
    monkeypatch.setattr("benchmarks.machine._cpuinfo", lambda: {
        "flags": "avx2 fma", "cpu MHz": "3000", "vendor_id": "GenuineIntel", "cpu family": "6"})
    gflops, source, text = cli.resolve_peak(cli.parse_args([]), 2)
    assert gflops == pytest.approx(192.0) and source == "flags" and "192 GFLOP/s" in text
    monkeypatch.setattr(peak, "calibrate", lambda n: (123.0, f"calibration at {n}"))
    assert cli.resolve_peak(cli.parse_args(["--peak", "calibrate"]), 2) == (
        123.0, "calibration", "calibration at 2")


def test_calibration_gemm_measures_something():
    gflops, text = peak.calibrate(1, n=128, repeats=2)
    assert gflops > 0 and "128x128" in text


def test_thread_lists_run_one_child_per_count(monkeypatch, tmp_path):
    assert cli.parse_args(["--threads", "1,2"]).threads == [1, 2]
    assert cli.parse_args(["--threads", "3"]).threads == [3]
    with pytest.raises(SystemExit):
        cli.parse_args(["--threads", "0,2"])
    calls = []
    monkeypatch.setattr(load, "read", lambda: 0.0)  # a quiet machine: the parent checks once
    monkeypatch.setattr("subprocess.call", lambda cmd, cwd: calls.append(cmd) or 0)
    argv = ["--only", "conv2d", "--threads", "1,2", "--out", str(tmp_path)]
    assert cli.main(argv) == {"threads": {1: 0, 2: 0}}
    assert [c[2:] for c in calls] == [
        ["benchmarks", "--only", "conv2d", "--threads", "1", "--out", str(tmp_path / "threads-1")],
        ["benchmarks", "--only", "conv2d", "--threads", "2", "--out", str(tmp_path / "threads-2")]]


def test_step_profile_stages_are_the_nets_forward():
    """The stages of ``benchmarks.step_profile``, chained, compute the CIFAR Net's forward (in
    eval mode, where dropout passes its input through): the profile times the step's own work."""
    from benchmarks import step_profile
    net = cases.build_model(torch, cases.seed_models().cifar_net,
                            cases.model_state(cases.seed_models().cifar_net)).eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    inputs = step_profile.stage_inputs(torch, net, x)
    assert len(inputs) == len(step_profile.STAGES) + 1
    with torch.no_grad():
        np.testing.assert_array_equal(inputs[-1], net(x).numpy())


def test_step_profile_and_conv_profile_rows():
    """Both profiles on a tiny batch: every stage gets positive times in both libraries, and
    conv_profile's floor column is its three GEMM phases over torch's whole call."""
    from benchmarks import conv_profile, step_profile
    rows = step_profile.profile(batch=2, repeats=1)
    names = [r[0] for r in rows]
    assert names == [s[0] for s in step_profile.STAGES] + ["cross_entropy", "Adam step",
                                                           "whole step"]
    assert all(ours > 0 and ref > 0 for _, ours, ref in rows)
    _, row = conv_profile.profile_shape(("tiny", 2, 4, 8, 6, 3, 1, 1), repeats=1)
    gemms = row["GEMM y"] + row["GEMM dw"] + row["GEMM dcols"]
    assert row["GEMMs ÷ torch"] == pytest.approx(gemms / row["torch"], rel=1e-12)


def test_profiles_run_one_child_per_thread_count(monkeypatch):
    """The profiles' rule (``threads.one_count_per_process``): several counts → one child each,
    with the caller's arguments and --force (the parent checked the load once); one count → it is
    set up here and returned."""
    calls, configured = [], []
    monkeypatch.setattr(load, "read", lambda: 0.0)
    monkeypatch.setattr("subprocess.check_call", lambda cmd: calls.append(cmd) or 0)
    monkeypatch.setattr(threads, "configure", lambda n: configured.append(n) or n)
    monkeypatch.setattr(threads, "apply_to_torch", lambda n: None)
    assert threads.one_count_per_process("benchmarks.step_profile", "1,2", ["--batch", "8"],
                                         False) is None
    assert [c[1:] for c in calls] == [
        ["-m", "benchmarks.step_profile", "--threads", "1", "--batch", "8", "--force"],
        ["-m", "benchmarks.step_profile", "--threads", "2", "--batch", "8", "--force"]]
    assert configured == []
    assert threads.one_count_per_process("benchmarks.step_profile", "2", [], False) == 2
    assert configured == [2] and len(calls) == 2
