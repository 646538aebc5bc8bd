// Entry point of the `lethe` command line.
#pragma once

namespace lethe {

// Parses the command line, runs one subcommand and returns the process exit code. Never lets
// an exception escape: every failure becomes a message on stderr and a documented exit code.
int run_cli(int argc, char** argv);

}  // namespace lethe
