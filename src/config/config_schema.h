// The single table of configuration fields. Every visitor (TOML loader, TOML writer, Markdown
// reference) walks this one function, so a key is declared exactly once with its type, range,
// default (the struct's initialiser) and documentation.
#pragma once

#include "src/config/config.h"

namespace lethe {

template <class C, class V>
void describe_config(C& c, V& v) {
  v.section("runtime", "How the process runs. These keys may differ between runs of one workspace.");
  v.integer("threads", c.runtime.threads, 0, 1024,
            "Threads for LibTorch and OpenBLAS (set together); 0 = one per core. "
            "Overridden by --threads.");
  v.choice("log_level", c.runtime.log_level, {"trace", "debug", "info", "warn", "error", "off"},
           "Verbosity of the log on stderr. Overridden by --log-level.");
}

}  // namespace lethe
