// cuda_cpu.h — CUDA's built-ins with their real semantics, for compiling kernels/*.cu UNCHANGED
// as C++17 on the CPU. Force-included (g++ -include cuda_cpu.h) before the kernel source; the
// runtime it declares (runtime.cpp, linked into the same shared object) runs every launch:
//
//   * a grid's blocks one after another; a block's threads as fibers (one stack each, switched
//     by hand) on the calling OS thread. A thread runs until it reaches __syncthreads() or
//     returns; when every thread has stopped, the runtime checks that all of them wait at the
//     same barrier (else: "barrier divergence", reported, the launch abandoned — never a hang)
//     and releases them. So __syncthreads() is a real barrier: no thread passes it before every
//     other thread has done everything it does before it.
//   * __shared__ is a function-local `static`: one object per variable of the program (per
//     template instantiation), and since one block runs at a time, that object IS the block's
//     shared memory. The runtime refills it (NaN bytes) before every block in the fast variant
//     and tracks every byte of it in the racecheck variant (a named section gives its extent).
//   * threadIdx / blockIdx / blockDim / gridDim read the runtime's current fiber and block.
//
// The build variants (see build.py) define one of MTCPU_FAST, MTCPU_ASAN, MTCPU_RACE.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

// ---- qualifiers: nothing to do on the CPU ---------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// (no __noinline__: no kernel uses it, and newer libstdc++ headers spell their own attribute
// __attribute__((__noinline__)), which such a macro breaks — g++ 13+ on the GPU machine failed
// to compile runtime.cpp with it)
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is a GNU C++ keyword already, with the meaning CUDA gives it.

// __shared__: per-block storage (see above). In the fast and racecheck variants every shared
// variable goes to the section "mtcpu_shared", whose extent the linker publishes as
// __start_mtcpu_shared / __stop_mtcpu_shared. The ASan variant leaves the variables in .bss,
// where AddressSanitizer puts redzones around each one (an overrun of a shared array is then a
// global-buffer-overflow naming it).
#if defined(MTCPU_ASAN)
#define __shared__ static
#else
#define __shared__ __attribute__((section("mtcpu_shared"))) static
#endif

// ---- vector types, with CUDA's size and alignment --------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "float4 as CUDA lays it out");
static_assert(sizeof(int4) == 16 && alignof(int4) == 16, "int4 as CUDA lays it out");

__forceinline__ float2 make_float2(float x, float y) { return float2{x, y}; }
__forceinline__ float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
__forceinline__ int2 make_int2(int x, int y) { return int2{x, y}; }
__forceinline__ int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }

// ---- the runtime's state, read by the built-in variables ------------------------------------
namespace cuda_cpu {
struct Thread {
    uint3 idx;          // threadIdx
    unsigned linear;    // idx.x + blockDim.x·(idx.y + blockDim.y·idx.z)
};
extern Thread* current __attribute__((visibility("hidden")));
extern uint3 block_idx __attribute__((visibility("hidden")));
extern dim3 block_dim __attribute__((visibility("hidden")));
extern dim3 grid_dim __attribute__((visibility("hidden")));
// Stop this fiber until every thread of the block has arrived (file:line name the barrier).
void syncthreads(const char* file, int line);
// Count a vector (8- or 16-byte) __ldg against the device buffer it reads: tests check that the
// float4 path of a kernel is taken where the operands allow it.
void note_vector_load(const void* p);

// ---- entry points: the type of every extern "C" kernel, read by the compiler ----------------
// MTCPU_ENTRY(name) (emitted after the kernel source by the build) registers `name` with a
// signature string deduced from its C++ type and an invoker that calls it with arguments taken
// from an array of pointers (cuLaunchKernel's convention).
template <class T> struct TypeName;
#define MTCPU_TYPE_NAME(T) template <> struct TypeName<T> { static constexpr const char* value = #T; }
MTCPU_TYPE_NAME(int); MTCPU_TYPE_NAME(unsigned int); MTCPU_TYPE_NAME(long long);
MTCPU_TYPE_NAME(unsigned long long); MTCPU_TYPE_NAME(long); MTCPU_TYPE_NAME(float);
MTCPU_TYPE_NAME(double); MTCPU_TYPE_NAME(bool); MTCPU_TYPE_NAME(short); MTCPU_TYPE_NAME(char);
MTCPU_TYPE_NAME(signed char); MTCPU_TYPE_NAME(unsigned char); MTCPU_TYPE_NAME(unsigned short);
MTCPU_TYPE_NAME(float*); MTCPU_TYPE_NAME(const float*); MTCPU_TYPE_NAME(double*);
MTCPU_TYPE_NAME(const double*); MTCPU_TYPE_NAME(int*); MTCPU_TYPE_NAME(const int*);
MTCPU_TYPE_NAME(long long*); MTCPU_TYPE_NAME(const long long*); MTCPU_TYPE_NAME(void*);
MTCPU_TYPE_NAME(const void*); MTCPU_TYPE_NAME(unsigned char*); MTCPU_TYPE_NAME(const unsigned char*);
MTCPU_TYPE_NAME(bool*); MTCPU_TYPE_NAME(const bool*);
#undef MTCPU_TYPE_NAME

using Invoker = void (*)(void (*fn)(), void** args);
void register_entry(const char* name, const char* const* types, int nargs, void (*fn)(), Invoker invoke);

template <class... A>
struct Entry {
    template <std::size_t... I>
    static void call(void (*fn)(A...), void** args, std::index_sequence<I...>) {
        fn(*static_cast<A*>(args[I])...);
    }
    static void invoke(void (*fn)(), void** args) {
        call(reinterpret_cast<void (*)(A...)>(fn), args, std::index_sequence_for<A...>{});
    }
    static constexpr const char* types[sizeof...(A) + 1] = {TypeName<A>::value..., nullptr};
};

struct Registrar {
    template <class... A>
    Registrar(const char* name, void (*fn)(A...)) {
        register_entry(name, Entry<A...>::types, static_cast<int>(sizeof...(A)),
                       reinterpret_cast<void (*)()>(fn), &Entry<A...>::invoke);
    }
};
}  // namespace cuda_cpu

#define MTCPU_ENTRY(name) static const ::cuda_cpu::Registrar mtcpu_entry_##name(#name, &name);

// ---- built-in variables (uint3 / dim3, read-only) --------------------------------------------
#define threadIdx (static_cast<const ::uint3&>(::cuda_cpu::current->idx))
#define blockIdx (static_cast<const ::uint3&>(::cuda_cpu::block_idx))
#define blockDim (static_cast<const ::dim3&>(::cuda_cpu::block_dim))
#define gridDim (static_cast<const ::dim3&>(::cuda_cpu::grid_dim))
constexpr int warpSize = 32;

#define __syncthreads() ::cuda_cpu::syncthreads(__FILE__, __LINE__)

// ---- read-only loads, bit casts, device math -------------------------------------------------
template <class T> __forceinline__ T __ldg(const T* p) {
    if (sizeof(T) > 4) ::cuda_cpu::note_vector_load(p);
    return *p;
}

__forceinline__ float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
__forceinline__ int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
__forceinline__ float __uint_as_float(unsigned int i) { float f; std::memcpy(&f, &i, 4); return f; }
__forceinline__ unsigned int __float_as_uint(float f) { unsigned int i; std::memcpy(&i, &f, 4); return i; }
__forceinline__ double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
__forceinline__ long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }

// fminf, fmaxf, fmaf, expf, logf, sqrtf, … are <cmath>'s (the same IEEE results; fmaf is fused).
// CUDA's integer and float min/max overloads:
#define MTCPU_MINMAX(T)                                                                         \
    __forceinline__ T min(T a, T b) { return a < b ? a : b; }                                   \
    __forceinline__ T max(T a, T b) { return a > b ? a : b; }
MTCPU_MINMAX(int) MTCPU_MINMAX(unsigned int) MTCPU_MINMAX(long long)
MTCPU_MINMAX(unsigned long long) MTCPU_MINMAX(long)
#undef MTCPU_MINMAX
__forceinline__ float min(float a, float b) { return fminf(a, b); }
__forceinline__ float max(float a, float b) { return fmaxf(a, b); }
__forceinline__ double min(double a, double b) { return fmin(a, b); }
__forceinline__ double max(double a, double b) { return fmax(a, b); }
__forceinline__ float __fdividef(float a, float b) { return a / b; }
__forceinline__ float __expf(float a) { return expf(a); }
__forceinline__ float __logf(float a) { return logf(a); }
__forceinline__ float rsqrtf(float a) { return 1.0f / sqrtf(a); }
