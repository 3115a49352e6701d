// The sessions of the REST API: the status screen's "Store and Forward" tile. A session is one
// sink's flow of one stream (runtime::SessionStatus); the routes list them with their rates and
// states, pause and unpause one, purge the buffered data of some, and compare two side by side.
// See docs/api.md, "Sessions".
//
// Rates (input/s, output/s) come from counters sampled over time: the routes keep the previous
// sample of every session and compute the rate over a window of at least one second, so that
// several screens polling at once do not each see a tiny, noisy window. The first answer after
// start shows 0.
#pragma once

#include "api/router.h"
#include "runtime/runtime.h"

namespace sluice::api {

// Adds the /api/v1/sessions routes. `runtime` must outlive the router. The handlers are
// thread-safe.
void register_session_routes(Router& router, runtime::Runtime& runtime);

}  // namespace sluice::api
