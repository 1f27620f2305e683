/*
 * Private to the library (and its tests and benchmarks): which vector instruction set the
 * kernels run on (the batched Philox, src/util/rng_batch.c; the batched exp and the
 * per-agent rules built on it, src/util/vmath.c, src/model/motivation.c). Every
 * implementation gives the same bits; the choice changes only speed.
 *
 * The widest one the CPU supports is chosen once, at the first call; the environment
 * variable CLHS_ISA (scalar, avx2, avx512) asks for a narrower one, so that tests and
 * benchmarks can run each path: a request the CPU cannot run falls back to the widest one
 * below it that it can.
 */
#ifndef CLHS_UTIL_ISA_H
#define CLHS_UTIL_ISA_H

/** The implementations of the vector kernels. */
enum clhs_isa {
  CLHS_ISA_SCALAR = 0, /**< plain C (no vector instructions beyond the x86-64 baseline) */
  CLHS_ISA_AVX2 = 1,   /**< 256-bit vectors, with FMA */
  CLHS_ISA_AVX512 = 2, /**< 512-bit vectors (AVX-512F) */
};

/** Whether this build and this CPU can run @p isa. */
int clhs_isa_supported(int isa);

/** The implementation in use: CLHS_ISA's request, or the widest supported (chosen once). */
int clhs_isa_choice(void);

/** "scalar", "avx2" or "avx512" for an enum clhs_isa value (NULL for another value). */
const char *clhs_isa_name(int isa);

/** The enum clhs_isa value of a name ("scalar", "avx2", "avx512"); -1 if unknown. */
int clhs_isa_parse(const char *name);

/** Checks CLHS_ISA: 0 when unset or a known name, else -1 (the caller reports it). */
int clhs_isa_env_check(void);

/* The x86 vector code: GCC or Clang on x86, unless built with -DCLHS_NO_SIMD. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(CLHS_NO_SIMD)
#define CLHS_X86_SIMD 1
#else
#define CLHS_X86_SIMD 0
#endif

/* CLHS_ISA_KERNEL(NAME, LOOP, (PARAMS), (ARGS)) defines NAME(int isa, PARAMS): LOOP(ARGS), a
 * static inline always_inline function, compiled once per instruction set (plain C, AVX2 with
 * FMA, AVX-512F), and the one for @p isa (clhs_isa_choice()) called. LOOP must be written so
 * that every path gives the same bits: no reassociation, explicit fma() where one is meant
 * (ISO C mode has no contraction), conditionals as selects. */
#define CLHS_UNPAREN(...) __VA_ARGS__
#if CLHS_X86_SIMD
#define CLHS_ISA_KERNEL(NAME, LOOP, PARAMS, ARGS)                                                  \
  static void NAME##_scalar PARAMS {                                                               \
    LOOP ARGS;                                                                                     \
  }                                                                                                \
  __attribute__((target("avx2,fma"))) static void NAME##_avx2 PARAMS {                             \
    LOOP ARGS;                                                                                     \
  }                                                                                                \
  __attribute__((target("avx512f"))) static void NAME##_avx512 PARAMS {                            \
    LOOP ARGS;                                                                                     \
  }                                                                                                \
  static void NAME(int isa, CLHS_UNPAREN PARAMS) {                                                 \
    if (isa == CLHS_ISA_AVX512)                                                                    \
      NAME##_avx512 ARGS;                                                                          \
    else if (isa == CLHS_ISA_AVX2)                                                                 \
      NAME##_avx2 ARGS;                                                                            \
    else                                                                                           \
      NAME##_scalar ARGS;                                                                          \
  }
#else
#define CLHS_ISA_KERNEL(NAME, LOOP, PARAMS, ARGS)                                                  \
  static void NAME(int isa, CLHS_UNPAREN PARAMS) {                                                 \
    (void)isa;                                                                                     \
    LOOP ARGS;                                                                                     \
  }
#endif

#endif
