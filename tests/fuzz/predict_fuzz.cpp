// libFuzzer target for prediction request lines (src/serving/predict_lines.cpp), which `lethe
// predict` reads from any client. The first byte chooses the workspace's payload kind (0: text,
// 1: 2x2 images, else 3 features); the rest is the request text. Any input must parse or be
// rejected with lethe::Error; what parses has one id and one payload of the right size per
// request.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/common/error.h"
#include "src/serving/predict_lines.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  lethe::DataShape shape;
  const int kind = data[0] % 3;
  shape.payload_kind = kind == 0 ? "text" : kind == 1 ? "image" : "features";
  shape.image_size = 2;
  shape.in_features = 3;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const lethe::PredictRequests r = lethe::parse_predict_lines(text, "fuzz-input", shape);
    if (r.ids.size() != r.batch.size()) __builtin_trap();
    for (size_t i = 0; i < r.batch.size(); ++i) {
      const size_t bytes = r.batch.payloads.at(i).size();
      if ((kind == 1 && bytes != 4) || (kind == 2 && bytes != 12) || (kind == 0 && bytes == 0)) __builtin_trap();
    }
  } catch (const lethe::Error&) {
  }
  return 0;
}
