"""Proof that the checkers of the CUDA-on-CPU layer can fail: copies of the real kernels with one
planted bug each (minitorch/testing/cuda_cpu/planted.py: a removed barrier, an off-by-one edge
guard, a wrong batch stride, a shared array one row short, a misaligned float4, an int64
argument declared int, a thread leaving before a barrier, overlapping split-K slices, a shared
tile never stored). Each is run through the kernel wrappers under the build whose checker must
catch it, and must be caught with the expected words; the same scenario on the unedited source
must pass under the same build (so it is the plant that is caught, not the scenario).

The asan plants run in a subprocess with libasan preloaded (AddressSanitizer and UBSan abort the
process on the first error)."""
import subprocess
import sys

import pytest

from minitorch.testing.cuda_cpu import (
    KernelError,
    SignatureMismatch,
    planted,
    sanitizer_environment,
)

IN_PROCESS = [p for p in planted.PLANTS if p.variant != "asan"]
SUBPROCESS = [p for p in planted.PLANTS if p.variant == "asan"]


def run_subprocess(plant, control=False):
    cmd = [sys.executable, "-m", "minitorch.testing.cuda_cpu.planted", plant.name]
    return subprocess.run(cmd + (["--control"] if control else []), env=sanitizer_environment(),
                          capture_output=True, text=True, timeout=600)


def test_every_plant_edits_its_module_exactly_once_and_names_a_checker():
    assert {p.variant for p in planted.PLANTS} == {"fast", "race", "asan"}
    assert len({p.name for p in planted.PLANTS}) == len(planted.PLANTS)
    for p in planted.PLANTS:
        edited = planted.source(p)          # raises unless p.old occurs exactly once
        assert p.old not in edited and p.new in edited


@pytest.mark.parametrize("plant", IN_PROCESS, ids=lambda p: p.name)
def test_planted_bug_is_caught(plant):
    planted.run(plant, control=True)             # the real kernel passes this scenario
    with pytest.raises((KernelError, SignatureMismatch)) as info:
        planted.run(plant)
    assert not planted.reported(plant, str(info.value)), (plant.name, str(info.value))


@pytest.mark.parametrize("plant", SUBPROCESS, ids=lambda p: p.name)
def test_planted_bug_is_caught_by_the_sanitizers(plant):
    control = run_subprocess(plant, control=True)
    assert control.returncode == 0 and "no error" in control.stdout, control.stderr[-3000:]
    out = run_subprocess(plant)
    assert out.returncode != 0 and "no error" not in out.stdout, out.stdout + out.stderr[-3000:]
    assert not planted.reported(plant, out.stderr), (plant.name, out.stderr[-3000:])
