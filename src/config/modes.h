// The training modes in one table: for each, what a node trains, what serves, what retraining
// rebuilds and whether the deletion replay applies. Code asks the table (mode_traits) instead of
// comparing mode names, so a new mode is one enumerator and one row: the static_assert below
// refuses a table whose rows are not one per enumerator, in order. The config keeps the mode as
// its name (train.mode in lethe.toml); parse_mode turns a name into a Mode.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

namespace lethe {

enum class Mode { kS3t, kSisa, kFull, kDp2 };

// What serves, given which nodes are live (shards/live_view.h applies it).
enum class Serving {
  kLongestChain,       // per shard the recorded sequence with the longest live prefix (the lowest
                       // index among equals); every group of its chain applies, with the last node's head
  kLastNode,           // per shard the longest live prefix of its one sequence; its last node alone
  kOneModel,           // the one model ("all"), when live
  kDeployedAfterBase,  // "deployed" after its DP base "dp_base"; the DP base alone only when
                       // privacy.after_forget = "dp_base"
};

// What `lethe retrain` rebuilds after deletions.
enum class Retraining {
  kFromLivePrefixes,  // each recorded sequence from its longest live prefix, on retained data
  kFromLastCleanCheckpoint,  // each shard from the checkpoint before its first changed slice
  kFromScratch,              // the one model again, on all retained data
  kFromDpBase,               // the deployed model again from the DP base, which deletions keep
};

// What the deletion replay (src/unlearning/deletion_replay.h) measures for a mode.
enum class ReplayAccuracy {
  kServed,           // the members the serving rule keeps after each batch of deletions
  kBeforeDeletions,  // the model's accuracy before any deletion, repeated: the mode must retrain
                     // after every deletion to serve at all, and the replay retrains nothing
  kNotReplayed,      // no curve: dp2's DP base survives deletions by its (epsilon, delta) bound,
                     // not by switching nodes off, which is all the replay models
};

struct ModeTraits {
  Mode mode;
  const char* name;        // as in lethe.toml, the CLI, the index (component kind) and reports
  bool sharded;            // trains per shard from recorded sequences; otherwise one model over
                           // every train slice (shard -1 in the index)
  bool group_per_stage;    // stage i trains LoRA group i (groups = slices); otherwise one group
  bool selects_sequences;  // its sequences are selected (cyclic or bms, owner priors): retraining
                           // restores the recorded ones instead of selecting again
  bool dp_base;            // trains a DP base under [privacy], then a deployed model fine-tuned from it
                           // (privacy.finetune_epochs); both see the same slices, so their names
                           // keep their seeds apart
  Serving serving;
  Retraining retraining;
  ReplayAccuracy replay;
  const char* replay_label;  // its curve's name in reports
};

inline constexpr ModeTraits kModeTable[] = {
    {Mode::kS3t, "s3t", true, true, true, false, Serving::kLongestChain, Retraining::kFromLivePrefixes,
     ReplayAccuracy::kServed, "S3T (serving clean prefixes)"},
    {Mode::kSisa, "sisa", true, false, false, false, Serving::kLastNode, Retraining::kFromLastCleanCheckpoint,
     ReplayAccuracy::kServed, "SISA (serving clean checkpoints)"},
    {Mode::kFull, "full", false, false, false, false, Serving::kOneModel, Retraining::kFromScratch,
     ReplayAccuracy::kBeforeDeletions, "full (accuracy before deletions; retraining not run)"},
    {Mode::kDp2, "dp2", false, false, false, true, Serving::kDeployedAfterBase, Retraining::kFromDpBase,
     ReplayAccuracy::kNotReplayed, "dp2"},
};

// train.mode's default; its crash points carry no mode name (train.before_commit.s0.p0).
inline constexpr Mode kDefaultMode = Mode::kS3t;

constexpr bool one_row_per_mode_in_order() {
  for (size_t i = 0; i < std::size(kModeTable); ++i) {
    if (static_cast<size_t>(kModeTable[i].mode) != i) return false;
  }
  return static_cast<size_t>(Mode::kDp2) + 1 == std::size(kModeTable);  // kDp2: the last enumerator
}
static_assert(one_row_per_mode_in_order(), "kModeTable needs one row per Mode, in enumerator order");

constexpr const ModeTraits& traits(Mode m) { return kModeTable[static_cast<size_t>(m)]; }
constexpr const char* mode_name(Mode m) { return traits(m).name; }

// ErrorKind::kUsage naming the valid modes when `name` is none of them.
Mode parse_mode(const std::string& name);
const ModeTraits& mode_traits(const std::string& name);
// nullptr when `name` is no mode (e.g. a curve of a saved replay written by something else).
const ModeTraits* find_mode(const std::string& name);

// Every mode's name, in table order (config validation and messages).
std::vector<std::string> mode_names();
// "s3t, sisa, full or dp2", for messages.
std::string mode_list();

}  // namespace lethe
