// The list of source types `sluice run` and `sluice validate` know.
#include "cli/builtin_sources.h"

#include "sources/simulator/simulator.h"

namespace sluice::cli {

const runtime::SourceTypes& builtin_source_types() {
  static const runtime::SourceTypes types = [] {
    runtime::SourceTypes t;
    sources::register_simulator(t);
    return t;
  }();
  return types;
}

}  // namespace sluice::cli
