// The table of training modes (src/config/modes.h): names round-trip, config validation lists
// exactly its modes, and the traits that code branches on say what the docs say.
#include <catch2/catch.hpp>

#include "src/common/error.h"
#include "src/config/config.h"
#include "src/config/modes.h"

using namespace lethe;

TEST_CASE("modes: every mode's name parses back to it", "[modes]") {
  for (const ModeTraits& t : kModeTable) {
    CHECK(parse_mode(t.name) == t.mode);
    CHECK(std::string(mode_name(t.mode)) == t.name);
    CHECK(&mode_traits(t.name) == &t);
  }
  CHECK(mode_names() == std::vector<std::string>{"s3t", "sisa", "full", "dp2"});
  CHECK(mode_list() == "s3t, sisa, full or dp2");
  CHECK(find_mode("sharded") == nullptr);
  try {
    parse_mode("sharded");
    FAIL("an unknown mode parsed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK(std::string(e.what()).find("s3t, sisa, full or dp2") != std::string::npos);
  }
}

TEST_CASE("modes: train.mode accepts exactly the table's modes", "[modes][config]") {
  for (const ModeTraits& t : kModeTable) {
    Config config;
    load_config_text(std::string("[train]\nmode = \"") + t.name + "\"\n", "cfg.toml", config);
    CHECK(config.train.mode == t.name);
  }
  Config config;
  CHECK(config.train.mode == mode_name(kDefaultMode));
  CHECK_THROWS_AS(load_config_text("[train]\nmode = \"sharded\"\n", "cfg.toml", config), Error);
}

TEST_CASE("modes: the replay covers the modes that serve or must retrain, not dp2", "[modes]") {
  CHECK(traits(Mode::kS3t).replay == ReplayAccuracy::kServed);
  CHECK(traits(Mode::kSisa).replay == ReplayAccuracy::kServed);
  CHECK(traits(Mode::kFull).replay == ReplayAccuracy::kBeforeDeletions);
  CHECK(traits(Mode::kDp2).replay == ReplayAccuracy::kNotReplayed);
  // Sharded modes are the ones with recorded sequences to serve from; s3t alone trains one
  // LoRA group per stage and selects its sequences.
  for (const ModeTraits& t : kModeTable) {
    CHECK(t.sharded == (t.mode == Mode::kS3t || t.mode == Mode::kSisa));
    CHECK(t.group_per_stage == (t.mode == Mode::kS3t));
    CHECK(t.selects_sequences == (t.mode == Mode::kS3t));
    CHECK(t.dp_base == (t.mode == Mode::kDp2));
  }
}
