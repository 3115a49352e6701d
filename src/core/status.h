// Status and Result: how the storage and network paths report failure without exceptions.
// Exceptions are kept for abandoning a whole request (CLI command, API call); inside the data
// path every fallible call returns a Status or a Result<T>.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

enum class Code : int {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (config, payload, API body)
  kNotFound,            // no such file, stream, cursor, series
  kAlreadyExists,       // e.g. creating a file that is there
  kCorruption,          // bytes on disk or on the wire fail their checks
  kIoError,             // the OS refused a read, write, sync, rename ...
  kNoSpace,             // ENOSPC, or the store's byte limit
  kResourceExhausted,   // a limit (queue, size) is reached: back off and retry
  kUnavailable,         // a peer is not there now; retry later
  kTimeout,             // waited as long as allowed
  kFailedPrecondition,  // the object is not in a state that allows the call
  kAborted,             // the operation was cancelled (shutdown)
  kPermissionDenied,    // the caller may not do this (an ACL, a role)
  kUnauthenticated,     // the caller did not prove who it is (a missing or wrong key)
  kInternal,            // a bug: an invariant did not hold
};

std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", for logs and error replies.
  std::string to_string() const;

  // Prefixes the message with where it happened, e.g. status.with_context("segment 42").
  Status with_context(std::string_view where) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status permission_denied(std::string m) {
  return {Code::kPermissionDenied, std::move(m)};
}
inline Status corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
inline Status io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
inline Status no_space(std::string m) { return {Code::kNoSpace, std::move(m)}; }
inline Status failed_precondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status internal_error(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result needs a value or a non-ok status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sluice

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define SLUICE_RETURN_IF_ERROR(expr) \
  do {                               \
    ::sluice::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
// Declares `lhs` from a Result, or returns its Status from the enclosing function.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(_res_, __LINE__), lhs, expr)
#define SLUICE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
