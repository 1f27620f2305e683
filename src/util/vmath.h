/*
 * Private to the library (and its tests and benchmarks): exp over arrays, in SIMD vectors
 * where the CPU has them, with the same bits on every instruction-set path (isa.h).
 *
 * The algorithm is glibc's exp since 2.28 (Szabolcs Nagy's, from Arm's optimized-routines:
 * exp(x) = 2^(k/128) exp(r), a 128-entry table of 2^(k/128) and a degree-5 polynomial),
 * written with explicit fused multiply-adds where glibc's FMA build (__exp_fma, the one
 * x86-64 CPUs with FMA run) has them. So it gives exactly what libm's exp gives on such a
 * CPU — the results of the model's earlier code — and the same on every path here, where
 * libm's own exp differs between CPUs with and without FMA (0.07 % of arguments, measured).
 * Arguments outside 2^-54 <= |x| < 512 (tiny, huge, NaN) are passed to libm's exp.
 */
#ifndef CLHS_UTIL_VMATH_H
#define CLHS_UTIL_VMATH_H

#include <stdint.h>

/** y[i] = exp(x[i]) for 0 <= i < n (x and y may be the same array). */
void clhs_exp_batch(const double *x, double *y, int64_t n);

/** clhs_exp_batch with the implementation @p isa (enum clhs_isa; scalar if this CPU cannot
 *  run it). */
void clhs_exp_batch_isa(int isa, const double *x, double *y, int64_t n);

/** exp(x), one at a time: the same bits as clhs_exp_batch. */
double clhs_exp(double x);

#endif
