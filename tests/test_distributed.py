"""minitorch.distributed, DistributedDataParallel and DistributedSampler.

The collectives and DDP run as real 2-process MPI jobs (``mpiexec -n 2``, MPICH from the
``minitorch[distributed]`` extra) of the scripts in tests/distributed/; each job writes what it
saw and the assertions are here. Without mpiexec or mpi4py these tests skip with the install hint,
except under ``make test`` (MINITORCH_REQUIRE_MPI=1), where a missing MPI fails them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch

HERE = os.path.dirname(os.path.abspath(__file__))
JOBS = os.path.join(HERE, "distributed")
ROOT = os.path.dirname(HERE)
WORLD = 2


def find_mpiexec() -> str | None:
    """The mpiexec beside this Python (the MPICH wheel's), else one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")


def need_mpi() -> str:
    mpiexec = find_mpiexec()
    missing = [what for what, ok in (("mpiexec", mpiexec is not None),
                                     ("mpi4py", importlib.util.find_spec("mpi4py") is not None))
               if not ok]
    if missing:
        reason = (f"{' and '.join(missing)} not installed: pip install "
                  f"'minitorch[distributed]'")
        if os.environ.get("MINITORCH_REQUIRE_MPI", "") not in ("", "0"):
            pytest.fail(f"MINITORCH_REQUIRE_MPI is set but {reason}")
        pytest.skip(reason)
    return mpiexec


def mpirun(script: str, *args, n: int = WORLD, timeout: float = 60, check: bool = True):
    """Run tests/distributed/<script> (or a module with -m) as an n-process MPI job."""
    mpiexec = need_mpi()
    target = ["-m", script] if script == "minitorch" else [os.path.join(JOBS, script)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI's mpiexec refuses to run as root unless told (a GPU machine's image ran the
        # tests as root and had Open MPI); MPICH ignores these variables
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    started = time.monotonic()
    proc = subprocess.run([mpiexec, "-n", str(n), sys.executable, *target, *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    proc.elapsed = time.monotonic() - started
    if check and proc.returncode != 0:
        raise AssertionError(f"mpiexec -n {n} {script} {args} exited with {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def load_job(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(JOBS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- (a) every collective against NumPy ------------------------------------------------------
@pytest.fixture(scope="module")
def collectives(tmp_path_factory):
    out = tmp_path_factory.mktemp("collectives")
    mpirun("collectives_job.py", out)
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(WORLD)]


REDUCE = {"SUM": lambda xs: np.sum(xs, axis=0), "AVG": lambda xs: np.mean(xs, axis=0),
          "MAX": lambda xs: np.max(xs, axis=0), "MIN": lambda xs: np.min(xs, axis=0)}


# AVG is defined for floating point only (its TypeError on int64 is tested below)
@pytest.mark.parametrize("op,key", [(op, key) for op in REDUCE for key in ("f64", "f32", "i64")
                                    if not (op == "AVG" and key == "i64")])
def test_all_reduce_matches_numpy(collectives, op, key):
    inputs = [load_job("collectives_job").inputs(r, WORLD)[key] for r in range(WORLD)]
    expected = REDUCE[op](np.stack(inputs))
    for got in collectives:
        out = got[f"all_reduce_{op}_{key}"]
        assert out.dtype == inputs[0].dtype
        rtol = 1e-6 if key == "f32" else 1e-15
        np.testing.assert_allclose(out, expected.astype(out.dtype), rtol=rtol, atol=0)


@pytest.mark.parametrize("op,reduce", [("MAX", np.any), ("MIN", np.all)])
def test_all_reduce_of_bools_is_any_or_all(collectives, op, reduce):
    masks = np.stack([load_job("collectives_job").inputs(r, WORLD)["mask"] for r in range(WORLD)])
    for got in collectives:
        np.testing.assert_array_equal(got[f"all_reduce_{op}_mask"], reduce(masks, axis=0))


def test_broadcast_gather_scatter_match_numpy(collectives):
    x = [load_job("collectives_job").inputs(r, WORLD) for r in range(WORLD)]
    summed = np.sum([xi["f64"] for xi in x], axis=0)
    gathered = np.stack([xi["gather"] for xi in x])
    for r, got in enumerate(collectives):
        assert (int(got["rank"]), int(got["world"]), str(got["backend"])) == (r, WORLD, "mpi")
        np.testing.assert_allclose(got["all_reduce_view"], summed, rtol=1e-15)
        np.testing.assert_allclose(got["all_reduce_async"], summed, rtol=1e-15)
        assert bool(got["async_completed"])
        np.testing.assert_array_equal(got["broadcast"], x[WORLD - 1]["f64"])
        np.testing.assert_array_equal(got["all_gather"], gathered)
        np.testing.assert_array_equal(got["all_gather_into_tensor"],
                                      gathered.reshape(2 * WORLD, 3))
        np.testing.assert_allclose(got["reduce_scatter"],
                                   np.sum([xi["scatter"][r] for xi in x], axis=0), rtol=1e-15)
        blocks = np.stack([xi["scatter_flat"].reshape(WORLD, 3)[r] for xi in x])
        np.testing.assert_array_equal(got["reduce_scatter_tensor_MAX"], blocks.max(axis=0))
        assert not bool(got["initialized_after_destroy"])


def test_collectives_refuse_bad_input_with_clear_errors(collectives):
    errors = list(collectives[0]["errors"])
    assert errors == [
        "ValueError: all_gather: tensor_list has 1 tensors but the group has 2 ranks",
        "TypeError: all_reduce: ReduceOp.AVG needs a floating-point tensor, got minitorch.int64",
        "ValueError: broadcast: src=2 is not a rank of this group of 2",
        "RuntimeError: init_process_group: the default process group is already initialized "
        "(call destroy_process_group() first)"]


# ---- (b) DDP equals single-process training ----------------------------------------------------
@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mpirun("ddp_job.py", out)
    with open(out / "ddp.json") as f:
        return json.load(f)


@pytest.mark.parametrize("case", ["sgd-float64-acc1", "adam-float64-acc1", "adamw-float64-acc1",
                                  "sgd-float64-acc2", "sgd-float32-acc1", "adam-float32-acc1"])
def test_ddp_training_equals_single_process_training(ddp, case):
    """4 steps (StepLR halving the lr after 2) of a conv+MLP on a global batch of 16 split over
    2 ranks vs one process on all 16; acc2: each rank's 8 as 2 micro-batches, one under
    no_sync()."""
    result = ddp[case]
    tol = 1e-12 if "float64" in case else 1e-5
    assert result["buckets"] > 1, "the case should exercise several buckets"
    assert len(result["ref_diff"]) == 4
    assert max(result["ref_diff"]) <= tol * max(1.0, result["scale"]), result
    assert result["rank_diff"] == [0.0] * 4, "ranks hold different weights"
    if case.endswith("acc2"):  # inside no_sync() each rank kept its own gradient
        assert len(result["no_sync_grad_diff"]) == 4
        assert min(result["no_sync_grad_diff"]) > 1e-6


def test_ddp_unused_parameters(ddp):
    result = ddp["unused"]
    assert result["False"].startswith("RuntimeError: DistributedDataParallel: the previous "
                                      "backward produced no gradient for unused.weight, "
                                      "unused.bias")
    assert result["True"].startswith("ok ")


# ---- (c) a failing rank ends the job, never a hang ---------------------------------------------
@pytest.mark.parametrize("mode,message", [
    ("raise", "minitorch.distributed: rank 1 of 2 failed (ValueError: rank 1 fails on purpose); "
              "ending all 2 ranks"),
    ("die", "Killed (signal 9)"),
    ("hang", r"all_reduce\(SUM\) of 3 x float64 timed out after 1\.\d s on rank 0 of 2: another "
             r"rank has stopped, died or is not calling all_reduce"),
])
def test_a_failing_rank_ends_the_job(mode, message):
    """Rank 0 waits in all_reduce (timeout 1 s for hang, 60 s otherwise) while rank 1 raises,
    is killed, or sleeps 60 s: the job must end with an error within seconds."""
    proc = mpirun("failure_job.py", mode, 1 if mode == "hang" else 60, check=False, timeout=40)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert (re.search(message, output) if mode == "hang" else message in output), output
    assert "the all_reduce completed" not in output
    assert proc.elapsed < 20, f"the job took {proc.elapsed:.1f} s to end"


# ---- (d) DistributedSampler = torch's --------------------------------------------------------
def torch_indices(n, world, rank, **kwargs):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    epoch = kwargs.pop("epoch", 0)
    sampler = TorchSampler(list(range(n)), num_replicas=world, rank=rank, **kwargs)
    sampler.set_epoch(epoch)
    assert torch is not None
    return list(sampler), len(sampler)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), world=st.integers(1, 5), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.sampled_from([0, 1, 42, 2**32 + 5]),
       epoch=st.integers(0, 3))
def test_distributed_sampler_matches_torch(n, world, shuffle, drop_last, seed, epoch):
    from minitorch.utils.data.distributed import DistributedSampler
    for rank in range(world):
        ours = DistributedSampler(list(range(n)), num_replicas=world, rank=rank, shuffle=shuffle,
                                  seed=seed, drop_last=drop_last)
        ours.set_epoch(epoch)
        expected, length = torch_indices(n, world, rank, shuffle=shuffle, seed=seed,
                                         drop_last=drop_last, epoch=epoch)
        assert list(ours) == expected
        assert len(ours) == length


def test_distributed_sampler_large_dataset_and_epochs_match_torch():
    from minitorch.utils.data import DistributedSampler
    ours = DistributedSampler(range(5000), num_replicas=3, rank=2, seed=7)
    for epoch in (0, 1):
        ours.set_epoch(epoch)
        assert list(ours) == torch_indices(5000, 3, 2, seed=7, epoch=epoch)[0]


@pytest.mark.parametrize("kwargs,message", [
    ({"num_replicas": 2, "rank": 2}, "invalid rank 2, rank should be in the interval [0, 1]"),
    ({"num_replicas": 2, "rank": -1}, "invalid rank -1, rank should be in the interval [0, 1]"),
    ({"num_replicas": 0, "rank": 0}, "num_replicas must be at least 1, got 0"),
    ({}, "pass num_replicas and rank, or call minitorch.distributed.init_process_group() first"),
])
def test_distributed_sampler_bad_arguments(kwargs, message):
    from minitorch.utils.data import DistributedSampler
    with pytest.raises((ValueError, RuntimeError)) as info:
        DistributedSampler(range(10), **kwargs)
    assert message in str(info.value)


# ---- the optional dependency ----------------------------------------------------------------
def test_without_mpi4py_minitorch_imports_and_distributed_says_how_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None; sys.modules['mpi4py.MPI'] = None\n"
            "import minitorch, minitorch.nn.parallel, minitorch.utils.data\n"
            "import minitorch.distributed as dist\n"
            "print('available', dist.is_available(), dist.is_initialized())\n"
            "try:\n    dist.init_process_group('mpi')\n"
            "except ImportError as e:\n    print('error', e)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "available False False"
    assert lines[1].startswith("error minitorch.distributed needs mpi4py and an MPI library: "
                               "pip install 'minitorch[distributed]'")
    assert len(lines) == 2


def test_collectives_before_init_raise_a_clear_error():
    import minitorch.distributed as dist
    assert not dist.is_initialized()
    with pytest.raises(dist.DistBackendError, match="call init_process_group"):
        dist.all_reduce(minitorch.ones(2))
    with pytest.raises(ValueError, match="unknown backend 'tcp'"):
        dist.init_process_group("tcp")


# ---- the CLI: mpiexec -n 2 python -m minitorch train --distributed ---------------------------
# SGD: its step is linear in the gradient, so float32 rounding of the averaged gradient stays at
# float32 rounding in the weights (Adam divides by sqrt(v) and magnifies it where a gradient is ~0)
TRAIN = ["train", "--distributed", "--model", "mlp", "--limit-train", "200", "--batch-size", "32",
         "--no-progress", "--val-fraction", "0.2", "--optimizer", "sgd", "--lr", "0.05"]


def weights(path) -> dict:
    return {k: v.numpy() for k, v in minitorch.load(path)["model"].items()}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """2 epochs on 1 process and on 2, and 2 processes again as 1 epoch + --resume."""
    d = tmp_path_factory.mktemp("cli")
    runs = {"one": mpirun("minitorch", *TRAIN, "--epochs", 2, "--checkpoint", d / "one.mt", n=1),
            "two": mpirun("minitorch", *TRAIN, "--epochs", 2, "--checkpoint", d / "two.mt",
                          "--out", d / "report")}
    first = mpirun("minitorch", *TRAIN, "--epochs", 1, "--checkpoint", d / "resumed.mt")
    runs["resumed"] = mpirun("minitorch", *TRAIN, "--epochs", 2, "--checkpoint",
                             d / "resumed.mt", "--resume")
    runs["first"] = first
    return d, runs


def test_cli_distributed_prints_once_with_world_size_and_backend(cli_runs):
    d, runs = cli_runs
    out = runs["two"].stdout.splitlines()
    headers = [line for line in out if line.startswith("mlp on digits")]
    assert len(headers) == 1 and headers[0].endswith("distributed: world size 2, backend mpi")
    assert sum(line.startswith("epoch ") for line in out) == 2
    assert "metrics.json" in os.listdir(d / "report")
    with open(d / "report" / "metrics.json") as f:
        assert len(json.load(f)["history"]) == 2


def test_cli_two_processes_train_as_one_on_the_same_global_batches(cli_runs):
    """The DistributedSampler's shares of a global batch are the single process's batch, so
    1 and 2 processes end with the same weights (float32: to ~1e-5)."""
    d, _ = cli_runs
    one, two = weights(d / "one.mt"), weights(d / "two.mt")
    assert one.keys() == two.keys()
    for k in one:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_cli_distributed_resume_ends_with_the_same_weights(cli_runs):
    d, runs = cli_runs
    assert "resumed from" in runs["resumed"].stdout
    two, resumed = weights(d / "two.mt"), weights(d / "resumed.mt")
    for k in two:
        np.testing.assert_array_equal(resumed[k], two[k], err_msg=k)


def test_cli_distributed_batch_not_divisible_ends_every_rank():
    proc = mpirun("minitorch", *TRAIN, "--epochs", 1, "--batch-size", "33", check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("minitorch train: error: --batch-size 33 (the global batch) is not divisible by the "
            "world size 2") in proc.stderr


# ---- GPU: NCCL with a world of one, MPI with CuPy arrays staged through the host ----------------
@pytest.mark.cuda
@pytest.mark.parametrize("backend,n", [("nccl", 1), ("mpi", WORLD)])
def test_collectives_and_ddp_on_cuda_tensors(tmp_path, backend, n):
    """Collectives on CUDA tensors against NumPy, and one DDP step's gradients against a single
    process on the whole batch (float64, ~1e-12). NCCL between several GPUs has not run."""
    mpirun("cuda_job.py", backend, tmp_path, n=n, timeout=120)
    with open(tmp_path / f"cuda_{backend}.json") as f:
        got = json.load(f)
    assert (got["backend"], got["world"]) == (backend, n)
    xs = np.array([[1.0 + r, -2.0 * r, 3.0] for r in range(n)], dtype=np.float32)
    for op, reduce in REDUCE.items():
        np.testing.assert_allclose(got[f"all_reduce_{op}"], reduce(xs), rtol=1e-6)
    assert got["broadcast"] == [float(n - 1)] * 4
    assert got["all_gather"] == [[r, 10.0 * r] for r in range(n)]
    blocks = np.stack([np.arange(3 * n, dtype=np.float32) + r for r in range(n)])
    np.testing.assert_allclose(got["reduce_scatter_tensor"], blocks.sum(0)[:3], rtol=1e-6)
    assert got["grad_diff"] <= 1e-12


# ---- the benchmark's ddp case -----------------------------------------------------------------
def test_ddp_benchmark_reports_step_and_all_reduce_times():
    need_mpi()
    from benchmarks import ddp
    row = ddp.measure(2, steps=2, batch=8)
    assert (row["world_size"], row["global_batch"], row["local_batch"]) == (2, 8, 4)
    assert row["step_ms"] > 0 and row["all_reduce_ms"] > 0 and row["buckets"] >= 1
    row["speedup"], row["efficiency"] = 1.0, 0.5
    table = ddp.markdown({"rows": [row], "load_average_start": None})
    assert "| 2 | 4 |" in table and "all-reduce alone (ms)" in table


def test_import_minitorch_gives_torch_names_without_starting_mpi():
    code = ("import sys\nimport minitorch as torch\n"
            "print(torch.distributed.is_initialized(), 'mpi4py.MPI' in sys.modules,\n"
            "      torch.nn.parallel.DistributedDataParallel.__name__,\n"
            "      torch.utils.data.distributed.DistributedSampler.__name__)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "DistributedDataParallel",
                                   "DistributedSampler"]


# ---- the NCCL backend's plumbing, on a CPU stand-in for CuPy/NCCL -----------------------------
@pytest.fixture(scope="module")
def nccl_fake(tmp_path_factory):
    out = tmp_path_factory.mktemp("nccl_fake")
    mpirun("nccl_fake_job.py", out)
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(WORLD)]


def test_nccl_backend_on_a_fake_nccl_matches_numpy(nccl_fake):
    """NCCLBackend's calls (pointers, counts, datatypes, roots, operators, the AVG division,
    the stream) checked by a fake communicator that moves the data with MPI
    (tests/distributed/fake_cupy.py). The real NCCL has not run."""
    x = [load_job("collectives_job").inputs(r, WORLD) for r in range(WORLD)]
    assert np.array_equal(nccl_fake[0]["comm_id"], nccl_fake[1]["comm_id"]), \
        "rank 0's unique id did not reach every rank"
    for r, got in enumerate(nccl_fake):
        for op, reduce in REDUCE.items():
            for key in ("f64", "f32") + (() if op == "AVG" else ("i64",)):
                expected = reduce(np.stack([xi[key] for xi in x])).astype(x[0][key].dtype)
                rtol = 1e-6 if key == "f32" else 1e-15
                np.testing.assert_allclose(got[f"all_reduce_{op}_{key}"], expected, rtol=rtol,
                                           err_msg=f"{op} {key}")
        np.testing.assert_array_equal(got["broadcast"], x[WORLD - 1]["f64"])
        np.testing.assert_array_equal(got["all_gather"], np.stack([xi["gather"] for xi in x]))
        blocks = np.stack([xi["scatter_flat"].reshape(WORLD, 3)[r] for xi in x])
        np.testing.assert_allclose(got["reduce_scatter_AVG"], blocks.mean(0), rtol=1e-15)
        assert got["streams"].tolist() == [0x5000]      # the current stream of device 0
        assert str(got["numpy_refused"]).startswith(
            "DistBackendError: the nccl backend works on CUDA tensors; got a ndarray")
        assert re.fullmatch(rf"all_reduce\(SUM\) of 2 x float64 timed out after 0\.[2-9] s on "
                            rf"rank {r} of 2: another rank has stopped, died or is not calling "
                            rf"all_reduce", str(got["timeout"])), str(got["timeout"])
        assert bool(got["aborted"]), "a timed-out NCCL collective must abort the communicator"
