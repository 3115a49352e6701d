// Names for the quality codes Sluice uses.
#include "core/quality.h"

#include <fmt/format.h>

namespace sluice::quality {

std::string to_string(Quality q) {
  switch (q) {
    case kGood: return "Good";
    case kUncertain: return "Uncertain";
    case kBad: return "Bad";
    case kUncertainLastUsableValue: return "UncertainLastUsableValue";
    case kBadCommunicationError: return "BadCommunicationError";
    case kBadTimeout: return "BadTimeout";
    case kBadNoCommunication: return "BadNoCommunication";
    case kBadWaitingForInitialData: return "BadWaitingForInitialData";
    case kBadOutOfRange: return "BadOutOfRange";
    case kBadConfigurationError: return "BadConfigurationError";
    case kBadNotConnected: return "BadNotConnected";
    case kBadDeviceFailure: return "BadDeviceFailure";
    case kBadSensorFailure: return "BadSensorFailure";
    case kBadNoData: return "BadNoData";
    default: break;
  }
  const char* sev = is_good(q) ? "Good" : (is_bad(q) ? "Bad" : "Uncertain");
  return fmt::format("{}(0x{:08X})", sev, q);
}

}  // namespace sluice::quality
