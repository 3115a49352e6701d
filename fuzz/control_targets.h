// Fuzz target bodies for the parsers of control requests (runtime/control.h: the JSON form that
// the MQTT command topic and the REST API take), shared by the libFuzzer binary and the unit test
// that replays fuzz/corpus/control_request.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// Arbitrary bytes through parse_control_request. A refusal must carry a message; an accepted
// request must be within the limits, and its JSON form (control_request_json) must parse back to
// an equal request.
int control_request(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
