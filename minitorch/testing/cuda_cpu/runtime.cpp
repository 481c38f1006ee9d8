// runtime.cpp — runs CUDA launches of kernels compiled with cuda_cpu.h on the CPU, with checks.
//
// Linked into every module's shared object (one per kernels/*.cu file and build variant) and
// driven from Python through the C API at the bottom (minitorch/testing/cuda_cpu/module.py).
//
// Execution: the blocks of a grid run one after another on the calling thread (x fastest, then
// y, then z). A block's threads are fibers: each has its own stack and runs the kernel from
// the start; it stops at __syncthreads() (or when it returns) and the scheduler runs the next
// one. When all have stopped, every thread must be waiting at the same barrier — then the
// barrier opens (a new "epoch" starts) and the round repeats — or all must have returned (the
// block is done). Anything else is barrier divergence: reported, the block abandoned.
//
// Checks, by build variant (MTCPU_FAST / MTCPU_RACE / MTCPU_ASAN):
//   all      barrier divergence (synccheck).
//   fast     device buffers are carved out of one reserved arena, 64 KiB apart, with 1 KiB
//   & race   canaries on either side: a write next to a buffer is reported after the launch,
//            and a stray access never reaches the malloc heap. Shared memory is filled with
//            NaN bytes before each block: a read of shared memory no thread of the block wrote
//            shows up as NaN.
//   race     racecheck / initcheck: the kernel is compiled with -fsanitize=thread, but this
//            file defines the __tsan_read*/__tsan_write* hooks itself (no TSan runtime), so
//            every load and store of the kernel comes here with its address and size. Shared
//            memory has a shadow entry per byte — epoch and thread of its last write and of its
//            reads — and these are reported: read-after-write, write-after-read and
//            write-after-write between two threads in one epoch (a missing __syncthreads), a
//            read of a byte no thread of this block wrote (uninitialised), an access outside
//            every __shared__ variable. An access in the arena outside every buffer is out of
//            bounds; every 4-byte word of an output remembers the block and thread that last
//            wrote it (one word written by two blocks, or by two threads of a block in one
//            epoch, is reported); a write to a const input is reported.
//   asan     memcheck: the kernel is compiled with -fsanitize=address,undefined (ASan aborts on
//            the first error: out-of-bounds global or shared access, misaligned float4, signed
//            overflow); this file annotates every fiber switch for ASan; buffers are exact-size
//            heap blocks, the bytes before a deliberately misaligned start poisoned.
#include "cuda_cpu.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <vector>

#if defined(MTCPU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace cuda_cpu {

Thread* current = nullptr;
uint3 block_idx = {0, 0, 0};
dim3 block_dim;
dim3 grid_dim;

// ---------------------------------------------------------------------------------------------
// Error reports: collected during a launch, read by Python afterwards
// ---------------------------------------------------------------------------------------------
static std::string g_errors;
static int g_error_count = 0;                   // every error found, repeats included
static std::vector<std::string> g_error_keys;   // de-duplication: one report per key
static int g_reports = 0;                       // distinct reports
static const int kMaxReports = 64;

// Record an error; `key` (kind and program counter) de-duplicates repeats of one fault.
static void report(const char* key, const char* fmt, ...) {
    ++g_error_count;
    if (key) {
        std::string k(key);
        if (std::find(g_error_keys.begin(), g_error_keys.end(), k) != g_error_keys.end()) return;
        g_error_keys.push_back(k);
    }
    if (++g_reports > kMaxReports) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_errors += buf;
    g_errors += '\n';
}

// ---------------------------------------------------------------------------------------------
// Entry points (registered by MTCPU_ENTRY at load time)
// ---------------------------------------------------------------------------------------------
struct EntryRecord {
    std::string name, types;  // types: the parameter types, comma separated
    int nargs;
    void (*fn)();
    Invoker invoke;
};
static std::vector<EntryRecord>& entries() {
    static std::vector<EntryRecord> all;
    return all;
}

void register_entry(const char* name, const char* const* types, int nargs, void (*fn)(), Invoker invoke) {
    std::string t;
    for (int i = 0; i < nargs; ++i) {
        if (i) t += ',';
        t += types[i];
    }
    entries().push_back(EntryRecord{name, t, nargs, fn, invoke});
}

// ---------------------------------------------------------------------------------------------
// Fibers: a hand-written context switch (callee-saved registers, stack pointer, MXCSR and the
// x87 control word), ucontext elsewhere or with -DMTCPU_UCONTEXT.
// ---------------------------------------------------------------------------------------------
#if defined(__x86_64__) && !defined(MTCPU_UCONTEXT)
#define MTCPU_OWN_SWITCH 1
#endif
#if MTCPU_OWN_SWITCH
extern "C" void mtcpu_switch(void** save_sp, void* to_sp);
asm(R"(
    .text
    .globl mtcpu_switch
    .hidden mtcpu_switch
    .type mtcpu_switch, @function
mtcpu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size mtcpu_switch, .-mtcpu_switch
)");
#else
#include <ucontext.h>
#endif

enum FiberState { kRunnable, kWaiting, kDone };

struct Fiber : Thread {
    char* stack = nullptr;     // lowest usable byte (a PROT_NONE guard page lies below)
    size_t stack_size = 0;
    FiberState state = kDone;
    const char* file = nullptr;  // the barrier it waits at
    int line = 0;
    bool clean = true;           // its last run ended normally (its stack holds no live frames)
#if MTCPU_OWN_SWITCH
    void* sp = nullptr;
#else
    ucontext_t ctx;
#endif
#if defined(MTCPU_ASAN)
    void* fake_stack = nullptr;
#endif
};

#if defined(MTCPU_ASAN)
static const size_t kStackSize = 1 << 20;   // ASan's redzones make frames several times larger
#else
static const size_t kStackSize = 64 << 10;    // kernel frames are small; nearby stacks cache well
#endif

static std::vector<Fiber> g_fibers;
static Invoker g_invoke = nullptr;
static void (*g_fn)() = nullptr;
static void** g_args = nullptr;
#if MTCPU_OWN_SWITCH
static void* g_sched_sp = nullptr;
#else
static ucontext_t g_sched_ctx;
#endif
#if defined(MTCPU_ASAN)
static void* g_sched_fake_stack = nullptr;
static const void* g_sched_bottom = nullptr;
static size_t g_sched_size = 0;
#endif

static void ensure_fibers(size_t n) {
    while (g_fibers.size() < n) {
        g_fibers.emplace_back();
        Fiber& f = g_fibers.back();
        const size_t page = 4096;
        void* mem = mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
            fprintf(stderr, "cuda_cpu: cannot map a fiber stack\n");
            abort();
        }
        mprotect(mem, page, PROT_NONE);  // a stack overflow faults instead of corrupting
        f.stack = static_cast<char*>(mem) + page;
        f.stack_size = kStackSize;
    }
}

// Stop the running fiber and continue the scheduler.
static void to_scheduler(Fiber* f, bool exiting) {
#if defined(MTCPU_ASAN)
    __sanitizer_start_switch_fiber(exiting ? nullptr : &f->fake_stack, g_sched_bottom, g_sched_size);
#else
    (void)exiting;
#endif
#if MTCPU_OWN_SWITCH
    mtcpu_switch(&f->sp, g_sched_sp);
#else
    swapcontext(&f->ctx, &g_sched_ctx);
#endif
#if defined(MTCPU_ASAN)
    __sanitizer_finish_switch_fiber(f->fake_stack, &g_sched_bottom, &g_sched_size);
#endif
}

static void fiber_main() {
    Fiber* f = static_cast<Fiber*>(current);
#if defined(MTCPU_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &g_sched_bottom, &g_sched_size);
#endif
    g_invoke(g_fn, g_args);
    f->state = kDone;
    f->clean = true;
    to_scheduler(f, true);
    abort();  // a finished fiber is never resumed
}

static void start_fiber(Fiber& f) {
#if defined(MTCPU_ASAN)
    if (!f.clean) __asan_unpoison_memory_region(f.stack, f.stack_size);  // frames abandoned
#endif
    f.clean = false;
#if MTCPU_OWN_SWITCH
    // The frame mtcpu_switch pops: MXCSR/x87 control word, r15..rbp, then the return address
    // fiber_main, entered as if called (rsp ≡ 8 mod 16, a null return address above).
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + f.stack_size) & ~uintptr_t(15);
    void** sp = reinterpret_cast<void**>(top);
    *--sp = nullptr;
    *--sp = reinterpret_cast<void*>(&fiber_main);
    for (int i = 0; i < 6; ++i) *--sp = nullptr;
    --sp;
    unsigned int mxcsr;
    unsigned short fpcw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpcw));
    std::memcpy(reinterpret_cast<char*>(sp), &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(sp) + 4, &fpcw, 2);
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = f.stack_size;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_main, 0);
#endif
    f.state = kRunnable;
}

static void resume(Fiber& f) {
    current = &f;
#if defined(MTCPU_ASAN)
    __sanitizer_start_switch_fiber(&g_sched_fake_stack, f.stack, f.stack_size);
#endif
#if MTCPU_OWN_SWITCH
    mtcpu_switch(&g_sched_sp, f.sp);
#else
    swapcontext(&g_sched_ctx, &f.ctx);
#endif
#if defined(MTCPU_ASAN)
    __sanitizer_finish_switch_fiber(g_sched_fake_stack, nullptr, nullptr);
#endif
    current = nullptr;
}

// ---------------------------------------------------------------------------------------------
// Shared memory: the __shared__ variables (function-local statics of the kernel), found by
// Python in the shared object's symbol table and handed over with mtcpu_set_shared.
// ---------------------------------------------------------------------------------------------
struct SharedVar {
    uintptr_t lo, hi;
    std::string name;
};
static std::vector<SharedVar> g_shared;     // sorted by address
static uintptr_t g_shared_lo = 0, g_shared_hi = 0;

static void fill_shared_with_nan() {
#if !defined(MTCPU_ASAN)
    for (const SharedVar& v : g_shared) std::memset(reinterpret_cast<void*>(v.lo), 0xff, v.hi - v.lo);
#endif
}

// ---------------------------------------------------------------------------------------------
// Device buffers
// ---------------------------------------------------------------------------------------------
struct Buffer {
    char* base;       // what was allocated
    char* ptr;        // the buffer (base + canary + misalignment)
    size_t nbytes;
    bool output;
    std::string name;
    std::vector<uint32_t> wblock, wepoch;   // race: per 4-byte word, last writer (block+1, epoch)
    std::vector<uint16_t> wthread;
    unsigned long long vector_loads = 0;
};
static std::vector<Buffer> g_buffers;
static const size_t kCanary = 1024;            // bytes of pattern on either side of a buffer
static const unsigned char kCanaryByte = 0xA7;

// Fast and race builds carve the buffers out of one reserved arena, 64 KiB apart: a stray
// access lands in a gap (the race build reports any access there; the canaries next to each
// buffer catch writes in the fast build) and never in the malloc heap.
static char* g_arena = nullptr;
static const size_t kArenaSize = size_t(1) << 36;   // reserved, not committed
static const size_t kGap = size_t(64) << 10;
static size_t g_arena_used = 0;

static char* allocate(size_t total) {
#if !defined(MTCPU_ASAN)
    if (!g_arena) {
        void* mem = mmap(nullptr, kArenaSize, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) return nullptr;
        g_arena = static_cast<char*>(mem);
    }
    size_t at = (g_arena_used + kGap + 255) & ~size_t(255);
    if (at + total + kGap > kArenaSize) return nullptr;
    g_arena_used = at + total;
    return g_arena + at;
#else
    void* p = nullptr;
    if (posix_memalign(&p, 256, total ? total : 1) != 0) return nullptr;
    return static_cast<char*>(p);
#endif
}

static void release_all() {
#if defined(MTCPU_ASAN)
    for (Buffer& b : g_buffers) {
        __asan_unpoison_memory_region(b.base, b.ptr - b.base);
        free(b.base);
    }
#else
    if (g_arena && g_arena_used > (size_t(64) << 20)) madvise(g_arena, g_arena_used + kGap, MADV_DONTNEED);
    g_arena_used = 0;
#endif
    g_buffers.clear();
}

static int check_canaries() {
    int bad = 0;
#if !defined(MTCPU_ASAN)
    for (const Buffer& b : g_buffers) {
        const unsigned char* before = reinterpret_cast<const unsigned char*>(b.base);
        const unsigned char* after = reinterpret_cast<const unsigned char*>(b.ptr + b.nbytes);
        size_t nbefore = b.ptr - b.base;
        for (size_t i = 0; i < nbefore; ++i)
            if (before[i] != kCanaryByte) {
                report(nullptr, "out-of-bounds write before the start of %s: %zu bytes before it "
                       "were overwritten", b.name.c_str(), nbefore - i);
                ++bad;
                break;
            }
        for (size_t i = 0; i < kCanary; ++i)
            if (after[i] != kCanaryByte) {
                report(nullptr, "out-of-bounds write past the end of %s (%zu bytes): the byte "
                       "%zu past its end was overwritten", b.name.c_str(), b.nbytes, i);
                ++bad;
                break;
            }
    }
#endif
    return bad;
}

// ---------------------------------------------------------------------------------------------
// The racecheck variant's shadow memory and the __tsan_* hooks
// ---------------------------------------------------------------------------------------------
static uint32_t g_epoch = 1;          // a new epoch starts with every block and every barrier
static uint32_t g_block_epoch = 1;    // the epoch the current block started in
static uint32_t g_block_linear = 0;
static bool g_in_kernel = false;

#if defined(MTCPU_RACE)
struct ByteShadow {
    uint32_t wepoch, repoch;   // epoch of the last write / of the reads recorded
    uint16_t wthread, rthread; // thread of the last write / first reader in repoch
    uint8_t rmany;             // another thread read it in repoch too
};
static std::vector<ByteShadow> g_shadow;   // one per byte of [g_shared_lo, g_shared_hi)

static void fmt_thread(char* out, size_t n, unsigned linear) {
    unsigned x = linear % block_dim.x, y = (linear / block_dim.x) % block_dim.y,
             z = linear / (block_dim.x * block_dim.y);
    snprintf(out, n, "thread (%u,%u,%u) of block (%u,%u,%u)", x, y, z, block_idx.x, block_idx.y,
             block_idx.z);
}

static const SharedVar* find_shared(uintptr_t a) {
    static const SharedVar* last = nullptr;   // a kernel touches one or two variables at a time
    if (last && a >= last->lo && a < last->hi && last >= g_shared.data() &&
        last < g_shared.data() + g_shared.size())
        return last;
    auto it = std::upper_bound(g_shared.begin(), g_shared.end(), a,
                               [](uintptr_t x, const SharedVar& v) { return x < v.lo; });
    if (it == g_shared.begin()) return nullptr;
    --it;
    return a < it->hi ? (last = &*it) : nullptr;
}

static void shared_access(uintptr_t a, size_t n, bool write, void* pc) {
    const SharedVar* v = find_shared(a);
    const unsigned me = current->linear;
    char who[96];
    if (!v || a + n > v->hi) {
        char key[64];
        snprintf(key, sizeof key, "shared-oob:%p", pc);
        fmt_thread(who, sizeof who, me);
        report(key, "out-of-bounds shared-memory %s of %zu bytes at pc %p by %s: %s", write ? "write" : "read",
               n, pc, who, v ? ("past the end of " + v->name).c_str() : "outside every __shared__ variable");
        if (!v) return;
        n = v->hi - a;
    }
    const size_t off0 = a - v->lo;
    for (size_t i = 0; i < n; ++i) {
        ByteShadow& s = g_shadow[a + i - g_shared_lo];
        const char* hazard = nullptr;
        unsigned other = 0;
        if (write) {
            if (s.wepoch == g_epoch && s.wthread != me) { hazard = "write-after-write"; other = s.wthread; }
            else if (s.repoch == g_epoch && (s.rmany || s.rthread != me)) {
                hazard = "write-after-read";
                other = s.rthread != me ? s.rthread : me;
            }
            s.wepoch = g_epoch;
            s.wthread = static_cast<uint16_t>(me);
        } else {
            if (s.wepoch < g_block_epoch) {
                char key[64];
                snprintf(key, sizeof key, "uninit:%p", pc);
                fmt_thread(who, sizeof who, me);
                report(key, "uninitialised shared-memory read at pc %p: %s reads byte %zu of %s, "
                       "which no thread of the block has written", pc, who, off0 + i, v->name.c_str());
                return;
            } else if (s.wepoch == g_epoch && s.wthread != me) {
                hazard = "read-after-write";
                other = s.wthread;
            }
            if (s.repoch != g_epoch) { s.repoch = g_epoch; s.rthread = static_cast<uint16_t>(me); s.rmany = 0; }
            else if (s.rthread != me) s.rmany = 1;
        }
        if (hazard) {
            char key[64], them[96];
            snprintf(key, sizeof key, "%s:%p", hazard, pc);
            fmt_thread(who, sizeof who, me);
            fmt_thread(them, sizeof them, other);
            report(key, "shared-memory %s hazard (no __syncthreads between the accesses) at pc "
                   "%p on byte %zu of %s: %s %s it, %s accessed it in the same barrier interval",
                   hazard, pc, off0 + i, v->name.c_str(), who, write ? "writes" : "reads", them);
            return;  // one report per access
        }
    }
}

static void global_access(uintptr_t a, size_t n, bool write, void* pc) {
    static Buffer* last = nullptr;   // consecutive accesses mostly hit one buffer
    Buffer* b = nullptr;
    if (last && last >= g_buffers.data() && last < g_buffers.data() + g_buffers.size() &&
        a >= reinterpret_cast<uintptr_t>(last->ptr) &&
        a + n <= reinterpret_cast<uintptr_t>(last->ptr) + last->nbytes) {
        b = last;
    } else {
        for (Buffer& c : g_buffers) {
            uintptr_t lo = reinterpret_cast<uintptr_t>(c.ptr);
            if (a + n > lo && a < lo + c.nbytes) { b = last = &c; break; }
        }
    }
    char who[96];
    if (!b || a < reinterpret_cast<uintptr_t>(b->ptr) ||
        a + n > reinterpret_cast<uintptr_t>(b->ptr) + b->nbytes) {
        // name the buffer it is past the end of (or the first buffer it is before)
        const Buffer* prev = nullptr;
        const Buffer* first = nullptr;
        for (const Buffer& c : g_buffers) {
            if (!first || c.ptr < first->ptr) first = &c;
            if (c.ptr <= reinterpret_cast<const char*>(a) && (!prev || c.ptr > prev->ptr)) prev = &c;
        }
        char key[64];
        snprintf(key, sizeof key, "global-oob:%p", pc);
        fmt_thread(who, sizeof who, current->linear);
        if (prev)
            report(key, "out-of-bounds global %s of %zu bytes at pc %p by %s: byte offset %lld of %s, "
                   "%lld bytes past its end", write ? "write" : "read", n, pc, who,
                   static_cast<long long>(a - reinterpret_cast<uintptr_t>(prev->ptr)), prev->name.c_str(),
                   static_cast<long long>(a + n - reinterpret_cast<uintptr_t>(prev->ptr) - prev->nbytes));
        else
            report(key, "out-of-bounds global %s of %zu bytes at pc %p by %s: %lld bytes before %s",
                   write ? "write" : "read", n, pc, who,
                   first ? static_cast<long long>(reinterpret_cast<uintptr_t>(first->ptr) - a) : 0LL,
                   first ? first->name.c_str() : "the first buffer");
        return;
    }
    if (!write) return;
    if (!b->output) {
        char key[64];
        snprintf(key, sizeof key, "const-write:%p", pc);
        fmt_thread(who, sizeof who, current->linear);
        report(key, "write to the input %s (declared const) at pc %p by %s", b->name.c_str(), pc, who);
        return;
    }
    const size_t off = a - reinterpret_cast<uintptr_t>(b->ptr);
    for (size_t w = off / 4; w <= (off + n - 1) / 4; ++w) {
        const uint32_t blk = g_block_linear + 1;
        const uint16_t me = static_cast<uint16_t>(current->linear);
        if (b->wblock[w] && b->wblock[w] != blk) {
            char key[64];
            snprintf(key, sizeof key, "two-blocks:%p", pc);
            fmt_thread(who, sizeof who, me);
            report(key, "global word written by two blocks at pc %p: %s writes word %zu (byte %zu) "
                   "of %s, which block #%u (linear, x fastest) wrote earlier in this launch", pc, who, w,
                   w * 4, b->name.c_str(), b->wblock[w] - 1);
        } else if (b->wblock[w] == blk && b->wepoch[w] == g_epoch && b->wthread[w] != me) {
            char key[64], them[96];
            snprintf(key, sizeof key, "two-threads:%p", pc);
            fmt_thread(who, sizeof who, me);
            fmt_thread(them, sizeof them, b->wthread[w]);
            report(key, "global write-after-write hazard at pc %p: %s and %s write word %zu of %s "
                   "with no barrier between", pc, who, them, w, b->name.c_str());
        }
        b->wblock[w] = blk;
        b->wepoch[w] = g_epoch;
        b->wthread[w] = me;
    }
}

static inline void on_access(void* p, size_t n, bool write, void* pc) {
    if (!g_in_kernel || !current) return;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    if (a >= g_shared_lo && a < g_shared_hi) shared_access(a, n, write, pc);
    else if (g_arena && a >= reinterpret_cast<uintptr_t>(g_arena) &&
             a < reinterpret_cast<uintptr_t>(g_arena) + kArenaSize) global_access(a, n, write, pc);
}
#endif  // MTCPU_RACE

}  // namespace cuda_cpu

#if defined(MTCPU_RACE)
// The hooks GCC's -fsanitize=thread instrumentation calls (normally ThreadSanitizer's runtime).
#define MTCPU_HOOK(NAME, N, W)                                                                  \
    extern "C" void NAME(void* p) { cuda_cpu::on_access(p, N, W, __builtin_return_address(0)); }
MTCPU_HOOK(__tsan_read1, 1, false) MTCPU_HOOK(__tsan_read2, 2, false)
MTCPU_HOOK(__tsan_read4, 4, false) MTCPU_HOOK(__tsan_read8, 8, false)
MTCPU_HOOK(__tsan_read16, 16, false) MTCPU_HOOK(__tsan_write1, 1, true)
MTCPU_HOOK(__tsan_write2, 2, true) MTCPU_HOOK(__tsan_write4, 4, true)
MTCPU_HOOK(__tsan_write8, 8, true) MTCPU_HOOK(__tsan_write16, 16, true)
MTCPU_HOOK(__tsan_unaligned_read2, 2, false) MTCPU_HOOK(__tsan_unaligned_read4, 4, false)
MTCPU_HOOK(__tsan_unaligned_read8, 8, false) MTCPU_HOOK(__tsan_unaligned_read16, 16, false)
MTCPU_HOOK(__tsan_unaligned_write2, 2, true) MTCPU_HOOK(__tsan_unaligned_write4, 4, true)
MTCPU_HOOK(__tsan_unaligned_write8, 8, true) MTCPU_HOOK(__tsan_unaligned_write16, 16, true)
MTCPU_HOOK(__tsan_volatile_read1, 1, false) MTCPU_HOOK(__tsan_volatile_read2, 2, false)
MTCPU_HOOK(__tsan_volatile_read4, 4, false) MTCPU_HOOK(__tsan_volatile_read8, 8, false)
MTCPU_HOOK(__tsan_volatile_read16, 16, false) MTCPU_HOOK(__tsan_volatile_write1, 1, true)
MTCPU_HOOK(__tsan_volatile_write2, 2, true) MTCPU_HOOK(__tsan_volatile_write4, 4, true)
MTCPU_HOOK(__tsan_volatile_write8, 8, true) MTCPU_HOOK(__tsan_volatile_write16, 16, true)
#undef MTCPU_HOOK
extern "C" void __tsan_read_range(void* p, unsigned long n) {
    cuda_cpu::on_access(p, n, false, __builtin_return_address(0));
}
extern "C" void __tsan_write_range(void* p, unsigned long n) {
    cuda_cpu::on_access(p, n, true, __builtin_return_address(0));
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void __tsan_vptr_update(void**, void*) {}
extern "C" void __tsan_vptr_read(void**) {}
#endif

namespace cuda_cpu {

void note_vector_load(const void* p) {
    const char* a = static_cast<const char*>(p);
    for (Buffer& b : g_buffers)
        if (a >= b.ptr && a < b.ptr + b.nbytes) {
            ++b.vector_loads;
            return;
        }
}

void syncthreads(const char* file, int line) {
    Fiber* f = static_cast<Fiber*>(current);
    f->state = kWaiting;
    f->file = file;
    f->line = line;
    to_scheduler(f, false);
}

// Run one block to completion; false when the block had to be abandoned.
static bool run_block(unsigned nthreads) {
    for (unsigned t = 0; t < nthreads; ++t) start_fiber(g_fibers[t]);
    fill_shared_with_nan();
    g_block_epoch = ++g_epoch;
    for (;;) {
        for (unsigned t = 0; t < nthreads; ++t)
            if (g_fibers[t].state == kRunnable) resume(g_fibers[t]);
        unsigned waiting = 0, done = 0;
        const Fiber* first = nullptr;
        const Fiber* other_site = nullptr;
        const Fiber* exited = nullptr;
        for (unsigned t = 0; t < nthreads; ++t) {
            const Fiber& f = g_fibers[t];
            if (f.state == kWaiting) {
                ++waiting;
                if (!first) first = &f;
                else if (!other_site && (f.line != first->line || std::strcmp(f.file, first->file) != 0))
                    other_site = &f;
            } else {
                ++done;
                if (!exited) exited = &f;
            }
        }
        if (waiting == 0) return true;
        if (done || other_site) {
            const Fiber* odd = other_site ? other_site : exited;
            char who[64], them[64];
            snprintf(who, sizeof who, "(%u,%u,%u)", first->idx.x, first->idx.y, first->idx.z);
            snprintf(them, sizeof them, "(%u,%u,%u)", odd->idx.x, odd->idx.y, odd->idx.z);
            if (other_site)
                report(nullptr, "barrier divergence in block (%u,%u,%u): thread %s waits at "
                       "__syncthreads() %s:%d while thread %s waits at %s:%d",
                       block_idx.x, block_idx.y, block_idx.z, who, first->file, first->line, them,
                       odd->file, odd->line);
            else
                report(nullptr, "barrier divergence in block (%u,%u,%u): %u threads wait at "
                       "__syncthreads() %s:%d (thread %s first) but %u threads have exited "
                       "(thread %s first) and will never arrive",
                       block_idx.x, block_idx.y, block_idx.z, waiting, first->file, first->line,
                       who, done, them);
            return false;   // the waiting fibers are abandoned (their stacks are reset later)
        }
        ++g_epoch;
        for (unsigned t = 0; t < nthreads; ++t) g_fibers[t].state = kRunnable;
    }
}

}  // namespace cuda_cpu

// ---------------------------------------------------------------------------------------------
// The C API (ctypes)
// ---------------------------------------------------------------------------------------------
using namespace cuda_cpu;

extern "C" {

__attribute__((visibility("default"))) const char* mtcpu_variant() {
#if defined(MTCPU_RACE)
    return "race";
#elif defined(MTCPU_ASAN)
    return "asan";
#else
    return "fast";
#endif
}

// The run-time address of this function: with its symbol-table value it gives the load base.
__attribute__((visibility("default"))) uintptr_t mtcpu_anchor() {
    return reinterpret_cast<uintptr_t>(&mtcpu_anchor);
}

__attribute__((visibility("default"))) int mtcpu_entry_count() { return static_cast<int>(entries().size()); }
__attribute__((visibility("default"))) const char* mtcpu_entry_name(int i) { return entries()[i].name.c_str(); }
__attribute__((visibility("default"))) const char* mtcpu_entry_types(int i) { return entries()[i].types.c_str(); }

// The __shared__ variables: n (address, size, name) triples.
__attribute__((visibility("default"))) void mtcpu_set_shared(int n, const uintptr_t* addr,
                                                             const uintptr_t* size, const char* const* name) {
    g_shared.clear();
    for (int i = 0; i < n; ++i) g_shared.push_back(SharedVar{addr[i], addr[i] + size[i], name[i]});
    std::sort(g_shared.begin(), g_shared.end(), [](const SharedVar& a, const SharedVar& b) { return a.lo < b.lo; });
    g_shared_lo = g_shared.empty() ? 0 : g_shared.front().lo;
    g_shared_hi = g_shared.empty() ? 0 : g_shared.back().hi;
#if defined(MTCPU_RACE)
    g_shadow.assign(g_shared_hi - g_shared_lo, ByteShadow{0, 0, 0, 0, 0});
#endif
}

// A device buffer of nbytes whose address is `misalign` bytes past a multiple of 16 (CuPy's
// allocations are 256-byte aligned; a view starts where its offset puts it). Canaries around it.
__attribute__((visibility("default"))) void* mtcpu_alloc(size_t nbytes, size_t misalign, int output,
                                                         const char* name) {
    const size_t lead = kCanary + (misalign % 16);
#if defined(MTCPU_ASAN)
    char* base = allocate(lead + nbytes);   // ASan's own redzone follows the last byte
#else
    char* base = allocate(lead + nbytes + kCanary);
#endif
    if (!base) return nullptr;
    Buffer b;
    b.base = base;
    b.ptr = base + lead;
    b.nbytes = nbytes;
    b.output = output != 0;
    b.name = name;
#if defined(MTCPU_ASAN)
    __asan_poison_memory_region(base, lead);
#else
    std::memset(base, kCanaryByte, lead);
    std::memset(b.ptr + nbytes, kCanaryByte, kCanary);
#endif
#if defined(MTCPU_RACE)
    if (b.output) {
        const size_t words = (nbytes + 3) / 4;
        b.wblock.assign(words, 0);
        b.wepoch.assign(words, 0);
        b.wthread.assign(words, 0);
    }
#endif
    g_buffers.push_back(std::move(b));
    return g_buffers.back().ptr;
}

__attribute__((visibility("default"))) void mtcpu_free_all() { release_all(); }

// Vector loads (__ldg of 8 or 16 bytes) from the i-th buffer allocated for the last launch.
__attribute__((visibility("default"))) unsigned long long mtcpu_vector_loads(int i) {
    return i < static_cast<int>(g_buffers.size()) ? g_buffers[i].vector_loads : 0;
}

// Launch entry point `entry` on grid (gx, gy, gz) of blocks (bx, by, bz) with cuLaunchKernel's
// argument array. Returns the number of errors found (their text: mtcpu_errors()).
__attribute__((visibility("default"))) int mtcpu_launch(int entry, unsigned gx, unsigned gy, unsigned gz,
                                                        unsigned bx, unsigned by, unsigned bz, void** args) {
    g_errors.clear();
    g_error_keys.clear();
    g_error_count = 0;
    g_reports = 0;
    const EntryRecord& e = entries()[entry];
    const unsigned nthreads = bx * by * bz;
    ensure_fibers(nthreads);
    for (unsigned t = 0; t < nthreads; ++t) {
        Fiber& f = g_fibers[t];
        f.idx = uint3{t % bx, (t / bx) % by, t / (bx * by)};
        f.linear = t;
    }
    grid_dim = dim3(gx, gy, gz);
    block_dim = dim3(bx, by, bz);
    g_invoke = e.invoke;
    g_fn = e.fn;
    g_args = args;
    g_in_kernel = true;
    bool ok = true;
    for (unsigned z = 0; z < gz && ok; ++z)
        for (unsigned y = 0; y < gy && ok; ++y)
            for (unsigned x = 0; x < gx && ok; ++x) {
                block_idx = uint3{x, y, z};
                g_block_linear = x + gx * (y + gy * z);
                ok = run_block(nthreads);
            }
    g_in_kernel = false;
    check_canaries();
    return g_error_count;
}

__attribute__((visibility("default"))) const char* mtcpu_errors() {
    static std::string text;
    text = g_errors;
    if (g_error_count > 0)
        text += "(" + std::to_string(g_error_count) + " errors found" +
                (g_reports > kMaxReports ? ", " + std::to_string(g_reports) + " distinct, the first " +
                                           std::to_string(kMaxReports) + " shown" : "") + ")\n";
    return text.c_str();
}

}  // extern "C"
