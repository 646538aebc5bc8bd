#include "src/serving/predict_lines.h"

#include <cstring>

#include "src/common/error.h"
#include "src/data/f32.h"

namespace lethe {

namespace {

std::string image_payload(const nlohmann::json& v, int64_t side, const std::string& where) {
  const size_t n = static_cast<size_t>(side * side);
  if (!v.is_array() || v.size() != n) fail(ErrorKind::kInput, "{}: \"image\" must be an array of {} pixel values", where, n);
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() > 255) {
      fail(ErrorKind::kInput, "{}: \"image\"[{}] must be an integer 0..255", where, i);
    }
    bytes[i] = static_cast<char>(v[i].get<int64_t>());
  }
  return bytes;
}

std::string feature_payload(const nlohmann::json& v, int64_t count, const std::string& where) {
  if (!v.is_array() || static_cast<int64_t>(v.size()) != count) {
    fail(ErrorKind::kInput, "{}: \"features\" must be an array of {} numbers", where, count);
  }
  std::string bytes(static_cast<size_t>(count) * sizeof(float), '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    // Converted as the JSONL reader converts at ingest, so the same numbers give the same bits.
    float f = 0;
    if (v[i].is_number_unsigned()) {
      f = static_cast<float>(v[i].get<uint64_t>());
    } else if (v[i].is_number_integer()) {
      f = static_cast<float>(v[i].get<int64_t>());
    } else if (v[i].is_number_float() && fits_f32(v[i].get<double>())) {
      f = static_cast<float>(v[i].get<double>());
    } else {
      fail(ErrorKind::kInput, "{}: \"features\"[{}] must be a finite 32-bit number", where, i);
    }
    std::memcpy(bytes.data() + i * sizeof(float), &f, sizeof(float));
  }
  return bytes;
}

void add_request(PredictRequests& out, const nlohmann::json& j, const std::string& where, const DataShape& shape,
                 const nlohmann::json& default_id) {
  RecordBatch& b = out.batch;
  const char* field = shape.payload_kind == "image" ? "image" : shape.payload_kind == "features" ? "features" : "text";
  if (!j.is_object()) fail(ErrorKind::kInput, "{}: expected a JSON object with a \"{}\" field", where, field);
  if (!j.contains(field)) fail(ErrorKind::kInput, "{}: no \"{}\" field (this workspace holds {} data)", where, field, shape.payload_kind);
  const nlohmann::json& v = j.at(field);
  if (shape.payload_kind == "image") {
    b.payloads.push(image_payload(v, shape.image_size, where));
  } else if (shape.payload_kind == "features") {
    b.payloads.push(feature_payload(v, shape.in_features, where));
  } else {
    if (!v.is_string() || v.get<std::string>().empty()) fail(ErrorKind::kInput, "{}: \"text\" must be a non-empty string", where);
    b.payloads.push(v.get<std::string>());
  }
  const nlohmann::json id = j.contains("id") ? j.at("id") : default_id;
  out.ids.push_back(id);
  b.ids.push(id.dump());
  b.owners.push("");
  b.labels.push_back(0);
  b.splits.push_back(Split::kTest);
}

PredictRequests empty_requests(const DataShape& shape) {
  PredictRequests out;
  RecordBatch& b = out.batch;
  if (shape.payload_kind == "image") {
    b.payload_kind = PayloadKind::kImage;
    b.payload_shape = {shape.image_size, shape.image_size};
  } else if (shape.payload_kind == "features") {
    b.payload_kind = PayloadKind::kFeatures;
    b.payload_type = PayloadType::kF32;
    b.payload_shape = {shape.in_features};
  }
  return out;
}

}  // namespace

PredictRequests parse_predict_lines(std::string_view text, const std::string& source, const DataShape& shape) {
  PredictRequests out = empty_requests(shape);
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("{}:{}", source, line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
      fail(ErrorKind::kInput, "{}: not valid JSON ({})", where, e.what());
    }
    add_request(out, j, where, shape, nlohmann::json(line_no));
  }
  return out;
}

PredictRequests parse_predict_inputs(const nlohmann::json& inputs, const std::string& field, const DataShape& shape) {
  if (!inputs.is_array()) fail(ErrorKind::kInput, "\"{}\" must be an array of inputs", field);
  PredictRequests out = empty_requests(shape);
  for (size_t i = 0; i < inputs.size(); ++i) {
    add_request(out, inputs[i], fmt::format("{}[{}]", field, i), shape, nlohmann::json(i));
  }
  return out;
}

}  // namespace lethe
