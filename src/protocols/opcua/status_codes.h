// OPC UA status codes (Part 4, 7.34; Part 6, annex A's StatusCode list): the constants the
// client layer tests for and a name for each common code, for logs and error messages. A
// status code is also Sluice's sample quality (core/quality.h), so a value read from a server
// keeps the server's code as its quality unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/quality.h"

namespace sluice::opcua {

using StatusCode = uint32_t;

namespace status {
// clang-format off
inline constexpr StatusCode kGood = 0x00000000;
inline constexpr StatusCode kUncertain = 0x40000000;
inline constexpr StatusCode kBad = 0x80000000;
inline constexpr StatusCode kBadUnexpectedError = 0x80010000;
inline constexpr StatusCode kBadInternalError = 0x80020000;
inline constexpr StatusCode kBadOutOfMemory = 0x80030000;
inline constexpr StatusCode kBadResourceUnavailable = 0x80040000;
inline constexpr StatusCode kBadCommunicationError = 0x80050000;
inline constexpr StatusCode kBadEncodingError = 0x80060000;
inline constexpr StatusCode kBadDecodingError = 0x80070000;
inline constexpr StatusCode kBadEncodingLimitsExceeded = 0x80080000;
inline constexpr StatusCode kBadUnknownResponse = 0x80090000;
inline constexpr StatusCode kBadTimeout = 0x800A0000;
inline constexpr StatusCode kBadServiceUnsupported = 0x800B0000;
inline constexpr StatusCode kBadShutdown = 0x800C0000;
inline constexpr StatusCode kBadServerNotConnected = 0x800D0000;
inline constexpr StatusCode kBadServerHalted = 0x800E0000;
inline constexpr StatusCode kBadNothingToDo = 0x800F0000;
inline constexpr StatusCode kBadTooManyOperations = 0x80100000;
inline constexpr StatusCode kBadCertificateInvalid = 0x80120000;
inline constexpr StatusCode kBadSecurityChecksFailed = 0x80130000;
inline constexpr StatusCode kBadCertificateUntrusted = 0x801A0000;
inline constexpr StatusCode kBadUserAccessDenied = 0x801F0000;
inline constexpr StatusCode kBadIdentityTokenInvalid = 0x80200000;
inline constexpr StatusCode kBadIdentityTokenRejected = 0x80210000;
inline constexpr StatusCode kBadSecureChannelIdInvalid = 0x80220000;
inline constexpr StatusCode kBadNonceInvalid = 0x80240000;
inline constexpr StatusCode kBadSessionIdInvalid = 0x80250000;
inline constexpr StatusCode kBadSessionClosed = 0x80260000;
inline constexpr StatusCode kBadSessionNotActivated = 0x80270000;
inline constexpr StatusCode kBadSubscriptionIdInvalid = 0x80280000;
inline constexpr StatusCode kBadRequestHeaderInvalid = 0x802A0000;
inline constexpr StatusCode kBadTimestampsToReturnInvalid = 0x802B0000;
inline constexpr StatusCode kBadRequestCancelledByClient = 0x802C0000;
inline constexpr StatusCode kGoodSubscriptionTransferred = 0x002D0000;
inline constexpr StatusCode kGoodOverload = 0x002F0000;
inline constexpr StatusCode kGoodClamped = 0x00300000;
inline constexpr StatusCode kBadNoCommunication = 0x80310000;
inline constexpr StatusCode kBadWaitingForInitialData = 0x80320000;
inline constexpr StatusCode kBadNodeIdInvalid = 0x80330000;
inline constexpr StatusCode kBadNodeIdUnknown = 0x80340000;
inline constexpr StatusCode kBadAttributeIdInvalid = 0x80350000;
inline constexpr StatusCode kBadIndexRangeInvalid = 0x80360000;
inline constexpr StatusCode kBadNotReadable = 0x803A0000;
inline constexpr StatusCode kBadNotWritable = 0x803B0000;
inline constexpr StatusCode kBadOutOfRange = 0x803C0000;
inline constexpr StatusCode kBadNotSupported = 0x803D0000;
inline constexpr StatusCode kBadNotFound = 0x803E0000;
inline constexpr StatusCode kBadNotImplemented = 0x80400000;
inline constexpr StatusCode kBadMonitoredItemIdInvalid = 0x80420000;
inline constexpr StatusCode kBadMonitoredItemFilterInvalid = 0x80430000;
inline constexpr StatusCode kBadMonitoredItemFilterUnsupported = 0x80440000;
inline constexpr StatusCode kBadContinuationPointInvalid = 0x804A0000;
inline constexpr StatusCode kBadNoContinuationPoints = 0x804B0000;
inline constexpr StatusCode kBadSecurityModeRejected = 0x80540000;
inline constexpr StatusCode kBadSecurityPolicyRejected = 0x80550000;
inline constexpr StatusCode kBadTooManySessions = 0x80560000;
inline constexpr StatusCode kBadUserSignatureInvalid = 0x80570000;
inline constexpr StatusCode kBadApplicationSignatureInvalid = 0x80580000;
inline constexpr StatusCode kBadNoMatch = 0x806F0000;
inline constexpr StatusCode kBadWriteNotSupported = 0x80730000;
inline constexpr StatusCode kBadTypeMismatch = 0x80740000;
inline constexpr StatusCode kBadMethodInvalid = 0x80750000;
inline constexpr StatusCode kBadArgumentsMissing = 0x80760000;
inline constexpr StatusCode kBadTooManySubscriptions = 0x80770000;
inline constexpr StatusCode kBadTooManyPublishRequests = 0x80780000;
inline constexpr StatusCode kBadNoSubscription = 0x80790000;
inline constexpr StatusCode kBadSequenceNumberUnknown = 0x807A0000;
inline constexpr StatusCode kBadMessageNotAvailable = 0x807B0000;
inline constexpr StatusCode kBadTcpMessageTooLarge = 0x80800000;
inline constexpr StatusCode kBadTcpInternalError = 0x80820000;
inline constexpr StatusCode kBadRequestTimeout = 0x80850000;
inline constexpr StatusCode kBadSecureChannelClosed = 0x80860000;
inline constexpr StatusCode kBadSecureChannelTokenUnknown = 0x80870000;
inline constexpr StatusCode kBadConfigurationError = 0x80890000;
inline constexpr StatusCode kBadNotConnected = 0x808A0000;
inline constexpr StatusCode kBadDeviceFailure = 0x808B0000;
inline constexpr StatusCode kBadSensorFailure = 0x808C0000;
inline constexpr StatusCode kBadOutOfService = 0x808D0000;
inline constexpr StatusCode kBadDeadbandFilterInvalid = 0x808E0000;
inline constexpr StatusCode kUncertainNoCommunicationLastUsableValue = 0x408F0000;
inline constexpr StatusCode kUncertainLastUsableValue = 0x40900000;
inline constexpr StatusCode kUncertainSubstituteValue = 0x40910000;
inline constexpr StatusCode kUncertainInitialValue = 0x40920000;
inline constexpr StatusCode kUncertainSensorNotAccurate = 0x40930000;
inline constexpr StatusCode kUncertainEngineeringUnitsExceeded = 0x40940000;
inline constexpr StatusCode kUncertainSubNormal = 0x40950000;
inline constexpr StatusCode kGoodLocalOverride = 0x00960000;
inline constexpr StatusCode kBadNoData = 0x809B0000;
inline constexpr StatusCode kBadInvalidArgument = 0x80AB0000;
inline constexpr StatusCode kBadConnectionRejected = 0x80AC0000;
inline constexpr StatusCode kBadDisconnect = 0x80AD0000;
inline constexpr StatusCode kBadConnectionClosed = 0x80AE0000;
inline constexpr StatusCode kBadInvalidState = 0x80AF0000;
inline constexpr StatusCode kBadRequestTooLarge = 0x80B80000;
inline constexpr StatusCode kBadResponseTooLarge = 0x80B90000;
inline constexpr StatusCode kBadProtocolVersionUnsupported = 0x80BE0000;
inline constexpr StatusCode kBadTooManyMonitoredItems = 0x80DB0000;
inline constexpr StatusCode kBadTooManyArguments = 0x80E50000;
inline constexpr StatusCode kBadSecurityModeInsufficient = 0x80E60000;
inline constexpr StatusCode kBadIndexRangeDataMismatch = 0x80EA0000;
inline constexpr StatusCode kBadServerTooBusy = 0x80EE0000;
inline constexpr StatusCode kBadNoValue = 0x80F00000;
inline constexpr StatusCode kBadNotExecutable = 0x81110000;
// clang-format on

// The code without its info bits (the low 16 bits: limit, overflow, historian bits), which
// is what names and comparisons of the kind "is it BadTimeout" need.
inline constexpr StatusCode code_part(StatusCode code) { return code & 0xFFFF0000u; }
}  // namespace status

// The code's name ("Good", "BadNodeIdUnknown", ...) ignoring its info bits, or "" if the code
// is not in the table (the ~270 codes of Part 6's list).
std::string_view status_name(StatusCode code);
// The name, or "Bad(0x80AB1234)" style with the severity for a code without one; info bits
// are shown in hex after the name ("GoodOverload+0x0480").
std::string status_to_string(StatusCode code);

inline bool is_good(StatusCode code) { return quality::is_good(code); }
inline bool is_bad(StatusCode code) { return quality::is_bad(code); }
inline bool is_uncertain(StatusCode code) {
  return quality::severity(code) == quality::Severity::kSeverityUncertain;
}

}  // namespace sluice::opcua
