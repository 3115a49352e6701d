// The source types compiled into this binary. A new source folder adds its registration to
// builtin_sources.cpp and nothing else changes.
#pragma once

#include "runtime/source_types.h"

namespace sluice::cli {

const runtime::SourceTypes& builtin_source_types();

}  // namespace sluice::cli
