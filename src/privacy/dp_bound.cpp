#include "src/privacy/dp_bound.h"

#include "src/privacy/dp_schedule.h"

namespace lethe {

DpBounded dp_bound(Db& db, const ComponentPrivacy& p) {
  DpBounded b;
  b.component_id = p.component_id;
  b.unit = p.unit;
  b.epsilon = p.epsilon;
  b.delta = p.delta;
  b.accountant = p.accountant;
  b.deleted_units = deleted_units_since(db, p);
  const GroupPrivacy g = group_privacy(p.epsilon, p.delta, b.deleted_units);
  b.group_epsilon = g.epsilon;
  b.group_delta = g.delta;
  return b;
}

nlohmann::json dp_bounded_json(const DpBounded& b) {
  return {{"component_id", b.component_id}, {"unit", b.unit}, {"epsilon", b.epsilon}, {"delta", b.delta},
          {"accountant", b.accountant}, {"deleted_units", b.deleted_units}, {"group_epsilon", b.group_epsilon},
          {"group_delta", b.group_delta}};
}

DpBounded dp_bounded_from_json(const nlohmann::json& j) {
  DpBounded b;
  b.component_id = j.at("component_id");
  b.unit = j.at("unit");
  b.epsilon = j.at("epsilon");
  b.delta = j.at("delta");
  b.accountant = j.at("accountant");
  b.deleted_units = j.at("deleted_units");
  b.group_epsilon = j.at("group_epsilon");
  b.group_delta = j.at("group_delta");
  return b;
}

}  // namespace lethe
