// Names of modes and health states, and the Source defaults: health bookkeeping and the
// refusal of control by sources that drive nothing.
#include "runtime/service.h"

#include <utility>

namespace sluice::runtime {

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kIdle: return "IDLE";
    case Mode::kRunning: return "RUNNING";
    case Mode::kDisabled: return "DISABLED";
  }
  return "UNKNOWN";
}

const char* health_state_name(HealthState state) {
  switch (state) {
    case HealthState::kHealthy: return "HEALTHY";
    case HealthState::kWarning: return "WARNING";
    case HealthState::kCritical: return "CRITICAL";
    case HealthState::kNotApplicable: return "N/A";
  }
  return "UNKNOWN";
}

Health Service::health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

void Service::set_health(HealthState state, std::string reason) {
  std::lock_guard lock(health_mu_);
  health_.state = state;
  health_.reason = std::move(reason);
}

Status Source::write(std::string_view name, const Value& /*value*/) {
  return failed_precondition("source '" + Service::name() + "' (type " + std::string(type()) +
                             ") does not support control: cannot write '" + std::string(name) +
                             "'");
}

Status Source::operation(std::string_view name, const OperationParams& /*params*/) {
  return failed_precondition("source '" + Service::name() + "' (type " + std::string(type()) +
                             ") does not support control: cannot run operation '" +
                             std::string(name) + "'");
}

}  // namespace sluice::runtime
