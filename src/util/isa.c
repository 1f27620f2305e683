/* Which vector instruction set the kernels run on (isa.h). */
#include "isa.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"scalar", "avx2", "avx512"};

int clhs_isa_supported(int isa) {
  switch (isa) {
  case CLHS_ISA_SCALAR: return 1;
#if CLHS_X86_SIMD
  /* The CPU's features (and whether the OS saves the vector registers) were read by the
   * compiler runtime's constructor before main, so these are plain reads. */
  case CLHS_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case CLHS_ISA_AVX512: return __builtin_cpu_supports("avx512f") != 0;
#endif
  default: return 0;
  }
}

const char *clhs_isa_name(int isa) {
  return isa >= CLHS_ISA_SCALAR && isa <= CLHS_ISA_AVX512 ? names[isa] : NULL;
}

int clhs_isa_parse(const char *name) {
  for (int i = CLHS_ISA_SCALAR; i <= CLHS_ISA_AVX512; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

int clhs_isa_env_check(void) {
  const char *e = getenv("CLHS_ISA");
  return !e || !*e || clhs_isa_parse(e) >= 0 ? 0 : -1;
}

int clhs_isa_choice(void) {
  /* Decided on the first call; threads racing on it all store the same value. */
  static _Atomic int choice = -1;
  int isa = atomic_load_explicit(&choice, memory_order_relaxed);
  if (isa < 0) {
    const char *e = getenv("CLHS_ISA");
    isa = e && *e ? clhs_isa_parse(e) : -1;
    if (isa < 0) isa = CLHS_ISA_AVX512;
    while (!clhs_isa_supported(isa))
      isa--;
    atomic_store_explicit(&choice, isa, memory_order_relaxed);
  }
  return isa;
}
