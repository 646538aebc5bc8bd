// Whether a number read as text (JSON, CSV) can become an f32 feature value. Converting a double
// outside float's range to float is undefined behaviour, and an infinity or NaN would reach the
// model as a feature: every reader of feature numbers checks this before converting.
#pragma once

#include <cfloat>
#include <cmath>

namespace lethe {

inline bool fits_f32(double v) { return std::isfinite(v) && std::fabs(v) <= static_cast<double>(FLT_MAX); }

}  // namespace lethe
