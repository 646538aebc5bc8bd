// Catch2 for tests that use LibTorch. c10's logging header defines a glog-style CHECK macro;
// included after catch.hpp it silently replaces Catch's CHECK (passing checks are no longer
// counted, and a failing one aborts the process instead of being reported). Including LibTorch
// first and dropping its CHECK keeps Catch's. Use this header instead of <catch2/catch.hpp>
// wherever a LibTorch header is in reach.
#pragma once

#include <torch/torch.h>

#undef CHECK

#include <catch2/catch.hpp>
