// Crash points for fault-injection tests. A process started with LETHE_CRASH_AT=<name> kills
// itself with SIGKILL when it reaches crash_point("<name>"): the closest thing to pulling the
// plug at an exact step, so tests can prove that every step leaves a recoverable workspace.
// Costs one getenv per call; the names are listed in docs/cli.md.
#pragma once

namespace lethe {

void crash_point(const char* name);

}  // namespace lethe
