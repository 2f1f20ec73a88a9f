// Policy: who belongs to the county's network, and who may read, write or
// relay which scope.
//
// A policy document lists members (public key -> name, agency, township,
// roles, optional revocation point), scopes (name -> current key epoch) and
// grants (agency or role -> scope -> rights). It is edited as TOML
// (docs/policy.md), signed by the county root key by publishing it as a
// delta (Replica::PublishPolicy), and replicated like any other delta; every
// replica derives the same current policy from the same deltas.
//
// Revocation is by feed position ("member X revoked after its seq N"),
// never by time: timestamps are the author's to forge.
//
// A Policy is a plain value: immutable once built, safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/export.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth {

// One right on a scope.
enum class Right : uint8_t {
  kRead = 1,   // receives the scope's keys; can decrypt its deltas
  kWrite = 2,  // its deltas in the scope are applied by every replica
  kRelay = 4,  // stores and forwards the scope's deltas without reading them
};

// A set of rights: `Right::kRead | Right::kWrite`; `rights & Right::kRead`
// tells whether the set holds a right (or shares one with another set).
class Rights {
 public:
  constexpr Rights() = default;
  constexpr Rights(Right r) : bits_(static_cast<uint8_t>(r)) {}  // NOLINT: one right is a set of one
  constexpr bool empty() const { return bits_ == 0; }
  constexpr explicit operator bool() const { return bits_ != 0; }
  constexpr uint8_t bits() const { return bits_; }
  // The set whose Right values are the 1 bits of `bits` (others ignored).
  static constexpr Rights FromBits(uint8_t bits) {
    Rights r;
    r.bits_ = static_cast<uint8_t>(bits & 7);
    return r;
  }
  constexpr Rights& operator|=(Rights o) {
    bits_ = static_cast<uint8_t>(bits_ | o.bits_);
    return *this;
  }
  friend constexpr Rights operator|(Rights a, Rights b) { return a |= b; }
  friend constexpr bool operator&(Rights a, Rights b) { return (a.bits_ & b.bits_) != 0; }
  constexpr bool operator==(const Rights&) const = default;

 private:
  uint8_t bits_ = 0;
};
constexpr Rights operator|(Right a, Right b) { return Rights(a) | Rights(b); }

struct HEARTH_EXPORT Member {
  AuthorId key;
  std::string name;
  std::string agency;    // hr | union | civil | township | ... (free, lowercase)
  std::string township;  // may be empty
  std::vector<std::string> roles;  // sorted, unique
  // Deltas of this member with seq > revoked_after are refused; it receives
  // no keys of later epochs.
  std::optional<uint64_t> revoked_after;
  bool operator==(const Member&) const = default;
};

struct HEARTH_EXPORT ScopeSpec {
  std::string name;
  uint32_t epoch = 1;  // current key epoch; writers encrypt under it
  std::string description;
  // A partitioned scope (docs/policy.md, "Partitioned scopes"): its records
  // fall into `partitions` (sorted, unique), each with its own key per
  // epoch; a record's partition is fixed by its id (PartitionPrefix). Its
  // deltas name "scope/partition". `partitioned_by` names the record field
  // the partition stands for (e.g. "township"; informational: the id decides).
  std::string partitioned_by;
  std::vector<std::string> partitions;
  bool partitioned() const { return !partitions.empty(); }
  bool operator==(const ScopeSpec&) const = default;
};

// Grants `rights` on `scope` to every member of `agency`, or (when `role`
// is set instead) to every member holding `role`. `scope` may be "*".
//
// On a partitioned scope a grant may be limited: `own_partition` to the
// partition named by the member's `township`, or `partitions` to a list;
// neither = every partition (county-wide).
struct HEARTH_EXPORT Grant {
  std::string agency;
  std::string role;
  std::string scope;
  Rights rights;
  bool own_partition = false;
  std::vector<std::string> partitions;  // sorted, unique
  bool operator==(const Grant&) const = default;
};

// Reserved scopes. `$policy` carries policy documents, `$schema` the
// county's schema and `$keys` sealed key envelopes; all are written only by
// the root key and readable by anyone (their "key" is 32 zero bytes, epoch 0).
inline constexpr const char* kPolicyScope = "$policy";
inline constexpr const char* kKeysScope = "$keys";
// The root-published schema (docs/schema.md, "Publishing under a county root").
inline constexpr const char* kSchemaScope = "$schema";

class HEARTH_EXPORT Policy {
 public:
  Policy() = default;

  // Parses the TOML form. kInvalidArgument with line and reason.
  static Result<Policy> Parse(std::string_view toml_text, std::string_view source_name = "<policy>");
  static Result<Policy> LoadFile(const std::string& path);
  // Canonical TOML (stable; Parse(ToToml()) == *this).
  std::string ToToml() const;

  uint64_t version() const { return version_; }
  const std::string& county() const { return county_; }
  const std::vector<Member>& members() const { return members_; }  // sorted by key
  const std::vector<ScopeSpec>& scopes() const { return scopes_; }  // sorted by name
  const std::vector<Grant>& grants() const { return grants_; }

  const Member* FindMember(const AuthorId& key) const;
  // `scope` is a scope name, or "scope/partition" naming a declared
  // partition of a partitioned scope (then the partitioned scope's spec).
  const ScopeSpec* FindScope(std::string_view scope) const;

  // The names keys and envelopes exist for: every unpartitioned scope's
  // name, and "scope/partition" for every partition of a partitioned one.
  std::vector<std::string> KeyScopes() const;
  // The partition of partitioned scope `scope` that record `id` belongs to
  // (by its id prefix); nullopt when `scope` is not partitioned or no
  // partition of it has that prefix.
  std::optional<std::string> PartitionOf(std::string_view scope, const RecordId& id) const;

  // Union of the rights the grants give `key` on `scope` (0 for non-members).
  Rights RightsOf(const AuthorId& key, std::string_view scope) const;

  // Whether delta `seq` of `author` in `scope` under key `epoch` may be
  // applied. Errors (kPermissionDenied) carry the reason: unknown member,
  // no write grant for scope S, revoked after seq N, unknown scope, unknown
  // key epoch E. `lane`: the delta is of version 5/6, whose seq counts in
  // its (author, scope) lane, not in the author's feed; `revoked_after`
  // bounds the legacy lane only, so a revoked member's lanes are all
  // revoked at 0 (a per-lane frontier is future work: docs/proposal-lanes.md).
  Status CheckWrite(const AuthorId& author, uint64_t seq, std::string_view scope, uint32_t epoch,
                    bool lane = false) const;
  // Members that may read `scope` now (not revoked), sorted.
  std::vector<AuthorId> Readers(std::string_view scope) const;
  bool MayRead(const AuthorId& key, std::string_view scope) const;
  // May receive the scope's deltas (read or relay), for sync.
  bool MayReceive(const AuthorId& key, std::string_view scope) const;

  // Editing (for administrators' tools). Each returns kInvalidArgument on
  // nonsense (duplicate member, unknown scope, ...).
  void set_version(uint64_t v) { version_ = v; }
  void set_county(std::string c) { county_ = std::move(c); }
  Status AddMember(Member m);
  Status AddScope(ScopeSpec s);
  Status AddGrant(Grant g);
  // Revokes `key` after its `after_seq` and starts a new epoch for every
  // scope it could read.
  Status Revoke(const AuthorId& key, uint64_t after_seq);

  bool operator==(const Policy&) const = default;

 private:
  Status Validate() const;

  uint64_t version_ = 1;
  std::string county_;
  std::vector<Member> members_;
  std::vector<ScopeSpec> scopes_;
  std::vector<Grant> grants_;
};

// Rights as text: "read", "write", "relay" joined with ','.
HEARTH_EXPORT std::string RightsToString(Rights rights);

// --- partitions (docs/policy.md, "Partitioned scopes") ---
// The id prefix of records of `partition`: the first 4 bytes of
// BLAKE2b-256("hearth/partition/v1" 0x00 partition).
HEARTH_EXPORT std::array<uint8_t, 4> PartitionPrefix(std::string_view partition);
// A fresh record id in `partition`: RecordId::Generate() with its first 4
// bytes replaced by PartitionPrefix(partition).
HEARTH_EXPORT RecordId NewRecordIdIn(std::string_view partition);
HEARTH_EXPORT bool RecordInPartition(const RecordId& id, std::string_view partition);
// "scope/partition" (a delta header's scope), and back: {scope, partition}
// split at the first '/', partition empty when there is none.
HEARTH_EXPORT std::string PartitionScope(std::string_view scope, std::string_view partition);
HEARTH_EXPORT std::pair<std::string_view, std::string_view> SplitScope(std::string_view header_scope);

}  // namespace hearth
