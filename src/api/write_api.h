// The HTTP write endpoint for custom collectors: POST /api/v1/write with a JSON body
//   {"session": "line-3",            optional, default "http"
//    "source": "link",               optional: the link source to write through (default: the
//                                    only one configured)
//    "samples": [{"series": "Line3.Speed", "ts": 1732435200000000000 | "2026-11-24T08:00:00Z",
//                 "value": 12.5 | 7 | true | "text", "quality": 0}]}
// The samples go to the session's stream of the link source (link/receiver.h, write_batch), the
// same path as the gRPC Link.Write; the answer (200 {"samples", "stream"}) comes only once they
// are durable. Operator role. A bad sample is a 400 naming it ("samples[3].ts").
#pragma once

#include "api/router.h"
#include "runtime/runtime.h"

namespace sluice::api {

// The most samples one request may carry.
inline constexpr size_t kMaxWriteSamples = 100'000;

void register_write_routes(Router& router, runtime::Runtime& runtime);

}  // namespace sluice::api
