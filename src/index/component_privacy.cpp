#include "src/index/component_privacy.h"

#include <nlohmann/json.hpp>

namespace lethe {

ComponentPrivacy component_privacy_from_json(const nlohmann::json& j) {
  ComponentPrivacy p;
  p.unit = j.at("unit");
  p.units = j.at("units");
  p.epsilon = j.at("epsilon");
  p.delta = j.at("delta");
  p.accountant = j.at("accountant");
  p.noise_multiplier = j.at("noise_multiplier");
  p.sample_rate = j.at("sample_rate");
  p.steps = j.at("steps");
  p.max_grad_norm = j.at("max_grad_norm");
  return p;
}

void record_component_privacy(Db& db, const ComponentPrivacy& p) {
  Stmt q = db.prepare(
      "INSERT INTO component_privacy (component_id, unit, units, epsilon, delta, accountant, noise_multiplier, "
      "sample_rate, steps, max_grad_norm, requests_seq, max_rid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, p.component_id).bind(2, p.unit).bind(3, p.units).bind(4, p.epsilon).bind(5, p.delta).bind(6, p.accountant);
  q.bind(7, p.noise_multiplier).bind(8, p.sample_rate).bind(9, p.steps).bind(10, p.max_grad_norm);
  q.bind(11, p.requests_seq).bind(12, p.max_rid);
  q.run();
}

std::optional<ComponentPrivacy> component_privacy(Db& db, int64_t component_id) {
  Stmt q = db.prepare(
      "SELECT unit, units, epsilon, delta, accountant, noise_multiplier, sample_rate, steps, max_grad_norm, "
      "requests_seq, max_rid FROM component_privacy WHERE component_id = ?");
  q.bind(1, component_id);
  if (!q.step()) return std::nullopt;
  ComponentPrivacy p;
  p.component_id = component_id;
  p.unit = q.text(0);
  p.units = q.int64(1);
  p.epsilon = q.real(2);
  p.delta = q.real(3);
  p.accountant = q.text(4);
  p.noise_multiplier = q.real(5);
  p.sample_rate = q.real(6);
  p.steps = q.int64(7);
  p.max_grad_norm = q.real(8);
  p.requests_seq = q.int64(9);
  p.max_rid = q.int64(10);
  return p;
}

std::vector<ComponentPrivacy> all_component_privacy(Db& db) {
  std::vector<int64_t> ids;
  Stmt q = db.prepare("SELECT component_id FROM component_privacy ORDER BY component_id");
  while (q.step()) ids.push_back(q.int64(0));
  std::vector<ComponentPrivacy> out;
  for (int64_t id : ids) out.push_back(*component_privacy(db, id));
  return out;
}

int64_t deleted_units_since(Db& db, const ComponentPrivacy& p) {
  const std::string what = p.unit == "owner" ? "COUNT(DISTINCT r.owner)" : "COUNT(DISTINCT r.rid)";
  Stmt q = db.prepare("SELECT " + what +
                      " FROM request_records rr JOIN requests q USING (request_id) JOIN records r USING (rid) "
                      "JOIN slices s USING (slice_id) "
                      "WHERE q.seq > ? AND r.rid <= ? AND r.status = 1 AND s.kind = 'train'");
  q.bind(1, p.requests_seq).bind(2, p.max_rid);
  q.step();
  return q.int64(0);
}

}  // namespace lethe
