#include "store/keys.hpp"

#include <bit>
#include <cstring>

#include "base/bytes.hpp"
#include "crypto/crypto.hpp"
#include "feed/delta.hpp"

namespace hearth::store {

void AppendU32(std::string& out, uint32_t v) { base::AppendBE32(out, v); }
void AppendU64(std::string& out, uint64_t v) { base::AppendBE64(out, v); }
uint32_t ReadU32(const uint8_t* p) { return base::LoadBE32(p); }
uint64_t ReadU64(const uint8_t* p) { return base::LoadBE64(p); }

LaneId LaneIdOf(std::string_view scope) {
  return crypto::HashBytes64({reinterpret_cast<const uint8_t*>(scope.data()), scope.size()});
}

LaneId LaneOf(uint8_t version, std::string_view scope) {
  return feed::IsLaneVersion(version) ? LaneIdOf(scope) : kLegacyLane;
}

std::string LaneKey(const AuthorId& author, const LaneId& lane) {
  std::string k(reinterpret_cast<const char*>(author.bytes.data()), author.bytes.size());
  k.append(reinterpret_cast<const char*>(lane.data()), lane.size());
  return k;
}

std::string FeedKey(const AuthorId& author, const LaneId& lane, uint64_t seq) {
  std::string k = LaneKey(author, lane);
  AppendU64(k, seq);
  return k;
}

std::optional<FeedPos> ParseLaneKey(std::span<const uint8_t> k) {
  if (k.size() != kLaneKeySize) return std::nullopt;
  FeedPos p;
  std::copy(k.begin(), k.begin() + 32, p.author.bytes.begin());
  std::copy(k.begin() + 32, k.begin() + 40, p.lane.begin());
  return p;
}

std::optional<FeedPos> ParseFeedKey(std::span<const uint8_t> k) {
  if (k.size() != kFeedKeySize) return std::nullopt;
  auto p = ParseLaneKey(k.first(kLaneKeySize));
  p->seq = ReadU64(k.data() + kLaneKeySize);
  return p;
}

std::string StatePrefix(std::string_view collection) {
  std::string k(collection);
  k.push_back('\0');
  return k;
}

std::string StateKey(std::string_view collection, const RecordId& id) {
  std::string k = StatePrefix(collection);
  k.append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
  return k;
}

std::string HistoryKey(std::string_view collection, const RecordId& id, const AuthorId& author, const LaneId& lane,
                       uint64_t seq) {
  std::string k = StateKey(collection, id);
  k.append(FeedKey(author, lane, seq));
  return k;
}

std::string ScopeKeyKey(std::string_view scope, uint32_t epoch) {
  std::string k(scope);
  k.push_back('\0');
  AppendU32(k, epoch);
  return k;
}

namespace {
void AppendEscaped(std::string& out, const uint8_t* p, size_t n) {
  n = std::min(n, kMaxIndexedBytes);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<char>(p[i]));
    if (p[i] == 0) out.push_back(static_cast<char>(0xff));
  }
  out.push_back('\0');
  out.push_back('\x01');
}
}  // namespace

void AppendSortable(std::string& out, const Value& v) {
  out.push_back(static_cast<char>(v.type()));
  switch (v.type()) {
    case ValueType::kNull: break;
    case ValueType::kBool: out.push_back(v.as_bool() ? 1 : 0); break;
    case ValueType::kInt: AppendU64(out, static_cast<uint64_t>(v.as_int()) ^ (uint64_t{1} << 63)); break;
    case ValueType::kTimestamp:
      AppendU64(out, static_cast<uint64_t>(v.as_timestamp().ms) ^ (uint64_t{1} << 63));
      break;
    case ValueType::kDouble: {
      uint64_t bits = std::bit_cast<uint64_t>(v.as_double());
      bits = (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
      AppendU64(out, bits);
      break;
    }
    case ValueType::kString:
      AppendEscaped(out, reinterpret_cast<const uint8_t*>(v.as_string().data()), v.as_string().size());
      break;
    case ValueType::kBytes: AppendEscaped(out, v.as_bytes().data(), v.as_bytes().size()); break;
    case ValueType::kRef:
      out.append(reinterpret_cast<const char*>(v.as_ref().bytes.data()), 16);
      break;
  }
}

std::string IndexPrefix(std::string_view collection, std::string_view field) {
  std::string k(collection);
  k.push_back('\0');
  k.append(field);
  k.push_back('\0');
  return k;
}

std::string IndexKey(std::string_view collection, std::string_view field, const Value& v,
                     const RecordId& id) {
  std::string k = IndexPrefix(collection, field);
  AppendSortable(k, v);
  k.append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
  return k;
}

}  // namespace hearth::store
