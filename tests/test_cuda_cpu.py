"""The CUDA-on-CPU layer itself (minitorch/testing/cuda_cpu): CUDA's built-ins with their real
semantics, launches checked against the compiled signatures, device buffers, and every checker
shown to fire — on small probe kernels written here, and on the real kernels/*.cu modules for
the build (entry points, signatures, __shared__ variables).

The checkers that abort the process (AddressSanitizer, UBSan) run in a subprocess with libasan
preloaded (``sanitizer_environment``); the others raise KernelError in this process.
"""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minitorch.backend import kernels
from minitorch.testing.cuda_cpu import KernelError, SignatureMismatch, load, sanitizer_environment
from minitorch.testing.cuda_cpu.build import preprocess
from minitorch.testing.cuda_cpu.module import misalignment
from minitorch.testing.cuda_cpu.signature import entry_declarations, normalise_type

MODULES = ("sgemm", "conv2d", "maxpool2d")

PROBE = r"""
// probe.cu — small kernels that exercise the CUDA-on-CPU layer (tests/test_cuda_cpu.py)

// every thread writes (threadIdx.x, .y, .z, its block as x + 1000·y + 1000000·z) and the
// block and grid sizes it sees
extern "C" __global__ void __launch_bounds__(1024) geometry(int* out, int* dims) {
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    int* o = out + 4 * (b * blockDim.x * blockDim.y * blockDim.z + t);
    o[0] = threadIdx.x; o[1] = threadIdx.y; o[2] = threadIdx.z;
    o[3] = blockIdx.x + 1000 * blockIdx.y + 1000000 * blockIdx.z;
    if (t == 0 && b == 0) {
        dims[0] = blockDim.x; dims[1] = blockDim.y; dims[2] = blockDim.z;
        dims[3] = gridDim.x; dims[4] = gridDim.y; dims[5] = gridDim.z; dims[6] = warpSize;
    }
}

// y = x reversed within each block, through shared memory: needs a real barrier
extern "C" __global__ void reverse_block(const float* __restrict__ x, float* __restrict__ y) {
    __shared__ float s[1024];
    const int base = blockIdx.x * blockDim.x;
    s[threadIdx.x] = x[base + threadIdx.x];
    __syncthreads();
    y[base + threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

// a running prefix sum over the block, one barrier per step (many barrier rounds)
extern "C" __global__ void block_scan(const int* x, int* y) {
    __shared__ int s[2][256];
    int cur = 0;
    s[cur][threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    for (unsigned step = 1; step < blockDim.x; step *= 2) {
        const int v = s[cur][threadIdx.x] + (threadIdx.x >= step ? s[cur][threadIdx.x - step] : 0);
        s[cur ^ 1][threadIdx.x] = v;
        cur ^= 1;
        __syncthreads();
    }
    y[threadIdx.x] = s[cur][threadIdx.x];
}

extern "C" __global__ void builtins(const float* __restrict__ x, float* __restrict__ y,
                                    long long* __restrict__ z, long long n, float scale) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(x));
    y[0] = fminf(v.x, v.y); y[1] = fmaxf(v.z, v.w); y[2] = __int_as_float(0xff800000);
    y[3] = fmaf(v.x, v.y, v.z); y[4] = min(3, -2); y[5] = max(3ll, 7ll);
    y[6] = sizeof(float4); y[7] = alignof(float4); y[8] = alignof(int4); y[9] = scale;
    z[0] = reinterpret_cast<unsigned long long>(x) & 15ull;
    z[1] = n;
    z[2] = static_cast<long long>(threadIdx.x) - 1;   // unsigned arithmetic wraps as in CUDA:
    z[3] = threadIdx.x - 1u;                          // 0u - 1u = 4294967295
}

extern "C" __global__ void exits_early(float* y) {       // half the block never arrives
    if (threadIdx.x >= 128) return;
    __syncthreads();
    y[threadIdx.x] = 1.f;
}

extern "C" __global__ void split_barrier(float* y) {     // two different barriers
    if (threadIdx.x % 2) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    y[threadIdx.x] = 1.f;
}

extern "C" __global__ void shared_race(float* y) {       // reads a neighbour's write, no barrier
    __shared__ float s[256];
    s[threadIdx.x] = threadIdx.x;
    y[threadIdx.x] = s[(threadIdx.x + 1) % 256];
}

extern "C" __global__ void shared_war(float* y) {        // overwrites what others read, no barrier
    __shared__ float s[256];
    s[threadIdx.x] = threadIdx.x;
    __syncthreads();
    const float v = s[(threadIdx.x + 1) % 256];
    s[threadIdx.x] = v;
    y[threadIdx.x] = v;
}

extern "C" __global__ void uninit_shared(float* y) {     // s[0] is never written
    __shared__ float s[256];
    if (threadIdx.x) s[threadIdx.x] = 1.f;
    __syncthreads();
    y[threadIdx.x] = s[0];
}

extern "C" __global__ void same_word(float* y) {         // every block writes y[threadIdx.x]
    y[threadIdx.x] = blockIdx.x;
}

extern "C" __global__ void read_past(const float* x, float* y) {   // the last thread reads x[n]
    y[threadIdx.x] = x[threadIdx.x + 1];
}

extern "C" __global__ void write_past(float* y) {        // the last thread writes y[n]
    y[threadIdx.x + 1] = 1.f;
}

extern "C" __global__ void writes_input(const float* x, float* y) {
    const_cast<float*>(x)[threadIdx.x] = 0.f;
    y[threadIdx.x] = 1.f;
}

extern "C" __global__ void half_written(float* y, int n) {
    if (threadIdx.x < n / 2) y[threadIdx.x] = 1.f;
}

extern "C" __global__ void misaligned_float4(const float* x, float* y) {
    const float4 v = *reinterpret_cast<const float4*>(x + 1);
    y[threadIdx.x] = v.x;
}

extern "C" __global__ void shared_overrun(float* y) {
    __shared__ float s[64];
    s[threadIdx.x] = 1.f;                                // 65 threads
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}
"""


def probe(variant="fast"):
    return load(PROBE, "probe", variant)


def run_in_asan(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` (after ``import numpy as np`` and a ``probe`` helper) in a fresh Python with
    libasan preloaded; the asan build aborts it on the first error."""
    header = ("import numpy as np\nfrom minitorch.testing.cuda_cpu import load\n"
              f"PROBE = {PROBE!r}\nm = load(PROBE, 'probe', 'asan')\n")
    return subprocess.run([sys.executable, "-c", header + textwrap.dedent(code)],
                          env=sanitizer_environment(), capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------------------------
# The real modules: built, entry points found in the objects, signatures as declared
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES)
def test_each_module_compiles_unchanged_and_registers_every_extern_c_entry(name):
    """Entry points three ways: the declarations in the preprocessed source, the compiled
    registrations (types deduced by the compiler) and the object's exported functions."""
    source = kernels.kernel_source(name)
    m = load(source, name)
    declared = {d.name: tuple(p.type for p in d.params)
                for d in entry_declarations(preprocess(source, name), f"{name}.cu")}
    compiled = {e: types for e, (_, types) in m.compiled.items()}
    assert declared and compiled == declared
    assert m.exported_functions() == set(compiled)
    assert (m.path.parent / f"{name}.cu").read_text() == source   # compiled as given


def test_the_entry_points_are_the_ones_the_wrappers_launch():
    expected = {f"sgemm_{t.name}_{ops}" for t in kernels.TILES.values()
                for ops in ("nn", "nt", "tn", "tt")}
    assert set(load(kernels.kernel_source("sgemm"), "sgemm").compiled) == expected
    conv = {f"conv2d_{kind}_{t.name}" for t in kernels.TILES.values()
            for kind in ("fwd", "bwd_data", "bwd_weight")} | {"splitk_reduce"}
    assert set(load(kernels.kernel_source("conv2d"), "conv2d").compiled) == conv
    assert set(load(kernels.kernel_source("maxpool2d"), "maxpool2d").compiled) == {
        "max_pool2d_fwd", "max_pool2d_bwd"}


def test_signatures_of_the_kernels_as_the_wrappers_pass_them():
    m = load(kernels.kernel_source("maxpool2d"), "maxpool2d")
    assert [(p.type, p.name) for p in m.params["max_pool2d_fwd"][:5]] == [
        ("const float*", "x"), ("float*", "y"), ("long long*", "ind"), ("long long", "total"),
        ("int", "H")]
    sgemm = load(kernels.kernel_source("sgemm"), "sgemm").params["sgemm_64x64_tn"]
    assert [p.type for p in sgemm] == ["const float*"] * 2 + ["float*"] + ["int"] * 6 + \
        ["long long"] * 3 + ["int"]


def test_the_shared_variables_are_found_with_their_sizes():
    m = load(kernels.kernel_source("sgemm"), "sgemm")
    shared = m.shared_variables()
    sizes = {re.sub(r".*::", "", name): size for _, size, name in shared}
    assert set(sizes) == {"As", "Bs"}
    big = [s for _, s, n in shared if "Tile<128" in n]
    small = [s for _, s, n in shared if "Tile<64" in n]
    t, s = kernels.TILE_L, kernels.TILE_S
    assert set(big) == {2 * t.BK * t.SA * 4} and set(small) == {2 * s.BK * s.SA * 4}
    assert len(shared) == 16      # As and Bs of the 8 instantiations of mainloop
    assert load(kernels.kernel_source("maxpool2d"), "maxpool2d").shared_variables() == []


def _probe_in_subprocess(tmp_path, flags: str, checks: str) -> None:
    """Build the probe module with MINITORCH_CUDA_CPU_CXXFLAGS=flags in a fresh process and
    build cache, run ``checks`` (``m`` is the module, ``defined`` its ``nm`` listing), then two
    launches through shared memory and barriers."""
    code = textwrap.dedent(f"""
        import subprocess
        import numpy as np
        from minitorch.testing.cuda_cpu import load
        m = load({PROBE!r}, "probe")
        defined = subprocess.run(["nm", "--defined-only", str(m.path)], capture_output=True,
                                 text=True, check=True).stdout
        """) + textwrap.dedent(checks) + textwrap.dedent("""
        x = np.arange(512, dtype=np.float32); y = np.empty_like(x)
        m.launch("reverse_block", (2,), (256,), (x, y))
        assert (y == x.reshape(2, 256)[:, ::-1].ravel()).all()
        x = np.arange(256, dtype=np.int32) % 7; y = np.empty_like(x)
        m.launch("block_scan", (1,), (256,), (x, y))
        assert (y == np.cumsum(x)).all()
        print("ok")""")
    env = dict(os.environ, MINITORCH_CUDA_CPU_CXXFLAGS=flags,
               MINITORCH_CUDA_CPU_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_a_module_with_libstdcxx_linked_in_finds_only_the_kernels_shared_variables(tmp_path):
    """A GCC whose library folder holds only libstdc++.a links it into every module (the H200
    machine's /opt/gcc/bin/g++ did). libstdc++'s own unnamed-namespace statics, such as the
    exception globals, are then in the module too; they are not __shared__ variables, and
    filling them with NaN bytes at each launch crashed the first one. Here -static-libstdc++
    links it in the same way."""
    _probe_in_subprocess(tmp_path, "-static-libstdc++", """
        assert " T __cxa_get_globals" in defined, "libstdc++ was not linked in"
        owners = {name.split("::")[0] for _, _, name in m.shared_variables()}
        assert owners and owners <= set(m.compiled), owners
        assert m.exported_functions() == set(m.compiled), m.exported_functions()
        """)


@pytest.mark.skipif(sys.platform != "linux", reason="ucontext fibers are the glibc path")
def test_glibcs_context_switch_runs_the_fibers_too(tmp_path):
    """-DMTCPU_UCONTEXT: the fibers switch with swapcontext (the path of non-x86-64 machines)
    instead of the hand-written switch."""
    _probe_in_subprocess(tmp_path, "-DMTCPU_UCONTEXT", """
        assert " mtcpu_switch" not in defined, "the hand-written switch was built"
        """)


@pytest.mark.parametrize("words,expected", [
    ("const float * __restrict__", "const float*"), ("float const*", "const float*"),
    ("long long int", "long long"), ("unsigned", "unsigned int"), ("const int", "int"),
    ("float * const", "float*"), ("int64_t", "long"), ("signed char", "signed char")])
def test_declared_types_are_normalised_as_the_compiler_names_them(words, expected):
    assert normalise_type(words.split()) == expected


# ---------------------------------------------------------------------------------------------
# CUDA's built-ins
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid,block", [((2, 3, 2), (8, 4, 2)), ((3, 1, 1), (1024, 1, 1)),
                                        ((1, 2, 1), (1, 1, 64))])
def test_thread_and_block_indices_cover_the_launch_geometry(grid, block):
    nb, nt = int(np.prod(grid)), int(np.prod(block))
    out, dims = np.zeros((nb, nt, 4), np.int32), np.zeros(7, np.int32)
    probe().launch("geometry", grid, block, (out, dims))
    z, y, x = np.meshgrid(*(np.arange(n) for n in block[::-1]), indexing="ij")
    bz, by, bx = np.meshgrid(*(np.arange(n) for n in grid[::-1]), indexing="ij")
    for b, blk in enumerate(bx.ravel() + 1000 * by.ravel() + 1000000 * bz.ravel()):
        np.testing.assert_array_equal(out[b], np.stack([x.ravel(), y.ravel(), z.ravel(),
                                                        np.full(nt, blk)], 1))
    np.testing.assert_array_equal(dims, [*block, *grid, 32])


def test_syncthreads_is_a_real_barrier_across_the_block():
    x = np.arange(3 * 1024, dtype=np.float32)
    y = np.empty_like(x)
    probe().launch("reverse_block", (3,), (1024,), (x, y))
    np.testing.assert_array_equal(y, x.reshape(3, 1024)[:, ::-1].ravel())


def test_many_barrier_rounds_in_a_block():
    x = np.arange(256, dtype=np.int32) % 7
    y = np.empty_like(x)
    probe("race").launch("block_scan", (1,), (256,), (x, y))
    np.testing.assert_array_equal(y, np.cumsum(x))


def test_vector_types_bit_casts_and_device_math():
    x = np.array([3.0, -1.5, 2.0, 8.0], np.float32)
    y, z = np.empty(10, np.float32), np.empty(4, np.int64)
    probe().launch("builtins", (1,), (1,), (x, y, z, np.int64(2 ** 40), np.float32(0.25)))
    np.testing.assert_array_equal(y, [-1.5, 8.0, -np.inf, np.float32(3.0 * -1.5 + 2.0), -2, 7,
                                      16, 16, 16, 0.25])
    np.testing.assert_array_equal(z, [0, 2 ** 40, -1, 2 ** 32 - 1])


# ---------------------------------------------------------------------------------------------
# Arguments: CuPy's marshalling, checked against the compiled signature
# ---------------------------------------------------------------------------------------------
X4, Y10, Z4 = np.ones(4, np.float32), np.empty(10, np.float32), np.empty(4, np.int64)


@pytest.mark.parametrize("args,words", [
    ((X4, Y10, Z4, np.int32(2), np.float32(1)), ["argument 3 (long long n)", "int32"]),
    ((X4, Y10, Z4, 2, np.float32(1)), None),                          # a Python int is int64
    ((X4, Y10, Z4, np.int64(2), 1.0), ["argument 4 (float scale)", "float64", "Python float"]),
    ((X4.astype(np.float64), Y10, Z4, np.int64(2), np.float32(1)),
     ["argument 0 (const float* x)", "float32", "float64"]),
    ((X4, Y10, Z4.astype(np.int32), np.int64(2), np.float32(1)), ["long long* z", "int32"]),
    ((X4, Y10, Z4, X4, np.float32(1)), ["is a scalar", "array"]),
    ((np.int64(0), Y10, Z4, np.int64(2), np.float32(1)), ["is a pointer"]),
    ((X4, Y10, Z4, np.int64(2)), ["takes 5 arguments", "passes 4"]),
], ids=["int32-for-long-long", "python-int", "python-float-for-float", "float64-array",
        "int32-array-for-long-long*", "array-for-scalar", "scalar-for-pointer", "count"])
def test_arguments_are_checked_against_the_compiled_signature(args, words):
    if words is None:
        probe().launch("builtins", (1,), (1,), args)
        return
    with pytest.raises(SignatureMismatch) as info:
        probe().launch("builtins", (1,), (1,), args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_buffers_keep_cupys_alignment_and_a_views_misalignment():
    y, z = np.empty(10, np.float32), np.empty(4, np.int64)
    buf = np.arange(9, dtype=np.float32)
    for offset in (0, 1, 2, 4):
        x = buf[offset:offset + 4]
        assert misalignment(x) == (4 * offset) % 16
        if misalignment(x) == 0:       # (the probe reads a float4: aligned views only)
            probe().launch("builtins", (1,), (1,), (x, y, z, np.int64(0), np.float32(0)))
            assert z[0] == 0


def test_unwritten_outputs_are_poisoned_and_inputs_must_stay_unchanged():
    y = np.zeros(8, np.float32)
    probe().launch("half_written", (1,), (8,), (y, np.int32(8)))
    assert (y[:4] == 1).all() and np.isnan(y[4:]).all()
    x = np.ones(8, np.float32)
    with pytest.raises(KernelError, match="changed its input x"):
        probe().launch("writes_input", (1,), (8,), (x, np.empty(8, np.float32)))
    assert (x == 1).all()       # the host array was never handed to the kernel


@pytest.mark.parametrize("grid,block,words", [
    ((1,), (1025,), "block (1025, 1, 1)"), ((1, 65536), (1,), "grid (1, 65536, 1)"),
    ((1,), (1, 1, 65), "block (1, 1, 65)")])
def test_launches_beyond_cudas_limits_are_refused(grid, block, words):
    with pytest.raises(KernelError, match=re.escape(words)):
        probe().launch("same_word", grid, block, (np.empty(2000, np.float32),))


def test_non_contiguous_and_aliased_arrays_are_refused():
    with pytest.raises(KernelError, match="not C-contiguous"):
        probe().launch("same_word", (1,), (4,), (np.empty(16, np.float32)[::2],))
    y = np.empty(8, np.float32)
    with pytest.raises(KernelError, match="shares memory"):
        probe().launch("writes_input", (1,), (8,), (y, y))


# ---------------------------------------------------------------------------------------------
# The checkers fire (every variant: divergence and canaries; race: the shadow memory)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["fast", "race"])
@pytest.mark.parametrize("entry,words", [
    ("exits_early", ["barrier divergence", "128 threads wait", "probe.cu", "128 threads have exited"]),
    ("split_barrier", ["barrier divergence", "waits at __syncthreads() probe.cu:"]),
])
def test_barrier_divergence_is_reported_not_a_hang(variant, entry, words):
    with pytest.raises(KernelError) as info:
        probe(variant).launch(entry, (2,), (256,), (np.empty(256, np.float32),))
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    # the layer is usable after an abandoned block
    y = np.empty(256, np.float32)
    probe(variant).launch("reverse_block", (1,), (256,), (np.arange(256, dtype=np.float32), y))
    assert y[0] == 255


@pytest.mark.parametrize("variant", ["fast", "race"])
def test_an_out_of_bounds_write_next_to_a_buffer_is_caught(variant):
    with pytest.raises(KernelError, match=r"out-of-bounds (global )?write.*y"):
        probe(variant).launch("write_past", (1,), (8,), (np.empty(8, np.float32),))


@pytest.mark.parametrize("entry,args,words", [
    ("shared_race", (np.empty(256, np.float32),),
     ["read-after-write hazard", "shared_race", "probe.cu:", "::s"]),
    ("shared_war", (np.empty(256, np.float32),), ["write-after-read hazard", "probe.cu:"]),
    ("uninit_shared", (np.empty(256, np.float32),),
     ["uninitialised shared-memory read", "byte 0 of", "uninit_shared::s"]),
    ("read_past", (np.ones(256, np.float32), np.empty(256, np.float32)),
     ["out-of-bounds global read of 4 bytes", "byte offset 1024 of x"]),
])
def test_race_variant_reports_hazards_and_bad_accesses_with_source_lines(entry, args, words):
    with pytest.raises(KernelError) as info:
        probe("race").launch(entry, (1,), (256,), args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_race_variant_reports_a_global_word_written_by_two_blocks():
    with pytest.raises(KernelError, match=r"written by two blocks.*word 0 .*of y"):
        probe("race").launch("same_word", (2,), (64,), (np.empty(64, np.float32),))
    probe("race").launch("same_word", (1,), (64,), (np.empty(64, np.float32),))   # one block: fine


@pytest.mark.parametrize("code,words", [
    ("m.launch('read_past', (1,), (256,), (np.ones(256, np.float32), np.empty(256, np.float32)))",
     ["AddressSanitizer: heap-buffer-overflow", "READ of size 4", "read_past"]),
    ("m.launch('shared_overrun', (1,), (65,), (np.empty(65, np.float32),))",
     ["runtime error: index 64 out of bounds for type 'float [64]'", "shared_overrun"]),
    ("m.launch('misaligned_float4', (1,), (1,), (np.ones(8, np.float32), np.empty(1, np.float32)))",
     ["runtime error", "misaligned address", "float4", "16 byte alignment"]),
], ids=["global-read-past-the-end", "shared-overrun", "misaligned-float4"])
def test_asan_variant_catches_memory_errors_in_a_subprocess(code, words):
    """(An index past a fixed-size __shared__ array is UBSan's bounds check; through a pointer
    it is ASan's global-buffer-overflow: tests/test_cuda_cpu_planted.py plants one.)"""
    out = run_in_asan(code + "\nprint('no error')")
    assert out.returncode != 0 and "no error" not in out.stdout, out.stdout + out.stderr
    for word in words:
        assert word in out.stderr, (word, out.stderr[-3000:])


def test_asan_variant_runs_correct_kernels_clean():
    out = run_in_asan("""
        x = np.arange(512, dtype=np.float32); y = np.empty_like(x)
        m.launch('reverse_block', (2,), (256,), (x, y))
        assert (y == x.reshape(2, 256)[:, ::-1].ravel()).all()
        print('ok')""")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
