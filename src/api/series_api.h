// The series of the REST API: every series Sluice knows with its metadata (unit, labels, source:
// the state database through the SeriesRegistry) and its last value (the runtime's in-memory
// last-value cache), and the samples of one series from the store, raw or aggregated per
// interval (min, max, avg, first, last, count). See docs/api.md, "Series".
#pragma once

#include "api/router.h"
#include "runtime/runtime.h"

namespace sluice::api {

// Limits of GET /api/v1/series/{name}/samples.
inline constexpr uint64_t kDefaultSampleLimit = 10'000;
inline constexpr uint64_t kMaxSampleLimit = 100'000;       // raw samples in one answer
inline constexpr uint64_t kMaxAggregateBuckets = 100'000;  // intervals in the time range

// Adds the /api/v1/series routes. `runtime` must outlive the router. The handlers are
// thread-safe.
void register_series_routes(Router& router, runtime::Runtime& runtime);

}  // namespace sluice::api
