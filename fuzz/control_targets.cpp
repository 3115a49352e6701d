// Fuzz target bodies for control requests (see control_targets.h).
#include "fuzz/control_targets.h"

#include <cstdlib>
#include <string_view>

#include "runtime/control.h"

namespace sluice::fuzz {
namespace {

bool same(const runtime::ControlRequest& a, const runtime::ControlRequest& b) {
  return a.action == b.action && a.target == b.target && a.values == b.values &&
         a.operation == b.operation && a.script == b.script && a.params == b.params;
}

}  // namespace

int control_request(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<runtime::ControlRequest> r = runtime::parse_control_request(text);
  if (!r.ok()) {
    if (r.status().message().empty() || r.status().code() != Code::kInvalidArgument) abort();
    return 0;
  }
  if (r->values.size() > runtime::kMaxControlValues ||
      r->params.size() > runtime::kMaxControlValues) {
    abort();
  }
  (void)r->describe();
  const std::string written = runtime::control_request_json(*r);
  if (written.size() > runtime::kMaxControlRequestBytes) return 0;  // escapes may grow the text
  Result<runtime::ControlRequest> again = runtime::parse_control_request(written);
  if (!again.ok() || !same(*r, *again)) abort();
  return 0;
}

}  // namespace sluice::fuzz
