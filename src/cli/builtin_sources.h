// The source types compiled into this binary. A new source folder adds its registration to
// builtin_sources.cpp and nothing else changes.
#pragma once

#include <memory>

#include "runtime/source_types.h"

namespace sluice::platform {
class RegistryLink;  // platform/platform_source.h
}  // namespace sluice::platform

namespace sluice::cli {

// The types, with nothing of the process's own (the device registry) attached: for checking
// configs, and for tests that need no MQTT adapter.
const runtime::SourceTypes& builtin_source_types();
// The types `sluice run` uses: platform sources find the device registry through `registry`.
runtime::SourceTypes make_source_types(std::shared_ptr<const platform::RegistryLink> registry);

}  // namespace sluice::cli
