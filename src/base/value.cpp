#include "hearth/value.hpp"

#include <sodium.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/bytes.hpp"

namespace hearth {
namespace {

Status FromHexString(std::string_view hex, uint8_t* out, size_t n, const char* what) {
  if (hex.size() != 2 * n) {
    return Status::InvalidArgument(std::string(what) + " must be " + std::to_string(2 * n) +
                                   " hex digits, got " + std::to_string(hex.size()));
  }
  if (!base::FromHexInto(hex, {out, n})) return Status::InvalidArgument(std::string(what) + " has a non-hex digit");
  return Status::Ok();
}

}  // namespace

RecordId RecordId::Generate() {
  RecordId id;
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  base::StoreBE(id.bytes.data(), ms, 6);
  if (sodium_init() < 0) std::abort();
  randombytes_buf(id.bytes.data() + 6, 10);
  return id;
}

std::string RecordId::ToHex() const { return base::ToHex(bytes.data(), bytes.size()); }

Result<RecordId> RecordId::FromHex(std::string_view hex) {
  RecordId id;
  HEARTH_RETURN_IF_ERROR(FromHexString(hex, id.bytes.data(), id.bytes.size(), "record id"));
  return id;
}

std::string AuthorId::ToHex() const { return base::ToHex(bytes.data(), bytes.size()); }

Result<AuthorId> AuthorId::FromHex(std::string_view hex) {
  AuthorId id;
  HEARTH_RETURN_IF_ERROR(FromHexString(hex, id.bytes.data(), id.bytes.size(), "author id"));
  return id;
}

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return "bool";
    case ValueType::kInt: return "int";
    case ValueType::kDouble: return "double";
    case ValueType::kString: return "string";
    case ValueType::kBytes: return "bytes";
    case ValueType::kTimestamp: return "timestamp";
    case ValueType::kRef: return "ref";
  }
  return "unknown";
}

std::string_view FieldKindName(FieldKind k) {
  switch (k) {
    case FieldKind::kLww: return "lww";
    case FieldKind::kMv: return "mv";
    case FieldKind::kSet: return "set";
    case FieldKind::kCounter: return "counter";
    case FieldKind::kStatus: return "status";
    case FieldKind::kLog: return "log";
  }
  return "unknown";
}

std::string Value::ToString() const {
  switch (type()) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return as_bool() ? "true" : "false";
    case ValueType::kInt: return std::to_string(as_int());
    case ValueType::kDouble: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", as_double());
      return buf;
    }
    case ValueType::kString: return "\"" + as_string() + "\"";
    case ValueType::kBytes: return "0x" + base::ToHex(as_bytes().data(), as_bytes().size());
    case ValueType::kTimestamp: return "@" + std::to_string(as_timestamp().ms);
    case ValueType::kRef: return "ref:" + as_ref().ToHex();
  }
  return "?";
}

std::strong_ordering operator<=>(const Value& a, const Value& b) {
  if (a.type() != b.type()) return a.type() <=> b.type();
  switch (a.type()) {
    case ValueType::kNull: return std::strong_ordering::equal;
    case ValueType::kBool: return a.as_bool() <=> b.as_bool();
    case ValueType::kInt: return a.as_int() <=> b.as_int();
    case ValueType::kDouble: {
      // IEEE-754 total order: numeric for ordinary values, -0 < +0, NaNs at
      // the ends by payload; identical bit patterns compare equal.
      auto key = [](double d) {
        uint64_t bits = std::bit_cast<uint64_t>(d);
        return (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
      };
      return key(a.as_double()) <=> key(b.as_double());
    }
    case ValueType::kString: return a.as_string().compare(b.as_string()) <=> 0;
    case ValueType::kBytes: return a.as_bytes() <=> b.as_bytes();
    case ValueType::kTimestamp: return a.as_timestamp() <=> b.as_timestamp();
    case ValueType::kRef: return a.as_ref() <=> b.as_ref();
  }
  return std::strong_ordering::equal;
}

}  // namespace hearth
