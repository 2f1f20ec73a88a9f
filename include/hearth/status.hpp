// Status and Result<T>: how every fallible Hearth call reports failure.
//
// No exception crosses the public API. A Status is cheap to copy when ok
// (no allocation) and carries a code chosen by what the caller can do next,
// plus a human-readable message with context (which file, which author,
// which delta). Result<T> holds either a value or a non-ok Status.
//
// Thread safety: plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "hearth/export.hpp"

namespace hearth {

enum class Code : uint8_t {
  kOk = 0,
  kNotFound = 1,            // the thing asked for does not exist
  kInvalidArgument = 2,     // caller's input is wrong (schema, types, usage)
  kCorruption = 3,          // bytes from disk or network are malformed
  kIOError = 4,             // the OS failed a read/write/sync
  kUnavailable = 5,         // try again later (peer offline, lock busy)
  kUnauthenticated = 6,     // signature, MAC or key check failed
  kPermissionDenied = 7,    // authenticated but not allowed
  kResourceExhausted = 8,   // disk or map full, size cap exceeded
  kFailedPrecondition = 9,  // state does not allow it (already open, gap)
  kAlreadyExists = 10,      // creating something that is there
  kInternal = 11,           // a bug in Hearth
};

HEARTH_EXPORT std::string_view CodeName(Code code);

class [[nodiscard]] HEARTH_EXPORT Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string message);

  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {Code::kResourceExhausted, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {Code::kFailedPrecondition, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // Empty when ok.
  const std::string& message() const;
  // "ok" or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; ok stays ok.
  Status WithContext(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

// Reports a Result accessed as a value while it holds an error:
// prints "hearth: Result::value() on an error: <code>: <message>" to stderr
// and calls std::abort(). Out of line so that value() stays one branch.
[[noreturn]] HEARTH_EXPORT void AbortOnErrorValue(const Status& status);

// Either a T or a non-ok Status.
//
// Calling value(), operator* or operator-> on an error is a bug in the
// caller: it throws nothing (no exception crosses the API) but aborts the
// process after printing the error's message to stderr. Check ok() (or
// status()) first:
//
//   auto r = hearth::Replica::Open(dir, options);
//   if (!r.ok()) { std::fprintf(stderr, "%s\n", r.status().ToString().c_str()); return 1; }
//   auto replica = std::move(r).value();
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  // An ok Status carries no value: that is a bug in the caller, reported
  // as kInternal rather than as a Result that is neither ok nor an error.
  Result(Status status)  // NOLINT: implicit by design
      : v_(status.ok() ? Status::Internal("Result made from an ok Status (no value)") : std::move(status)) {}

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & {
    CheckValue();
    return *std::get_if<0>(&v_);
  }
  const T& value() const& {
    CheckValue();
    return *std::get_if<0>(&v_);
  }
  // By value, not T&&: `for (auto& x : F().value())` and `auto&& v =
  // F().value()` would otherwise refer into a destroyed temporary.
  T value() && {
    CheckValue();
    return std::move(*std::get_if<0>(&v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckValue() const {
    if (v_.index() != 0) [[unlikely]] {
      const Status* s = std::get_if<1>(&v_);
      AbortOnErrorValue(s ? *s : Status::Internal("Result holds neither a value nor a Status"));
    }
  }
  std::variant<T, Status> v_;
};

}  // namespace hearth

// Internal convenience: return early on error.
#define HEARTH_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::hearth::Status hearth_status_ = (expr);   \
    if (!hearth_status_.ok()) return hearth_status_; \
  } while (0)
