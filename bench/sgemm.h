// The machine's measured single-precision matrix-multiply peak, printed beside every benchmark
// result so that figures from different machines can be compared.
#pragma once

namespace lethe {

// GFLOP/s of the best of several n x n x n float matrix products through LibTorch (which
// calls the BLAS in use). Takes about a second at n = 2048 on two cores.
double measure_sgemm_gflops(int n = 2048, int repeats = 5);

}  // namespace lethe
