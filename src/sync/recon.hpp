// Recursive range reconciliation (docs/protocol.md, "Recursive
// reconciliation"): the pieces that do not depend on the session's state.
// The author key space is cut recursively into kReconBranch ranges by the
// key's leading bits (3 bits per level); a range at depth k is named by the
// top 3k bits of its authors' keys. Fingerprints and item hashes are short
// (6 bytes; 8 with a peer from before compact RECON) and keyed with a key
// derived from both HELLO nonces, so nobody can prepare colliding feeds
// before a session starts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hearth/replica.hpp"

namespace hearth::sync {

inline constexpr uint32_t kReconBranch = 8;       // b: children per range
inline constexpr uint32_t kReconBitsPerLevel = 3;  // log2(b)
inline constexpr uint32_t kReconMaxDepth = 8;      // 24 bits of the key
// f and h: bytes of a range fingerprint and of an item hash. Compact RECON
// (modes 3 and 4) uses 6; the first RECON (modes 0 and 1), still spoken with
// peers that know only it, 8.
inline constexpr size_t kReconFpBytes = 6;
inline constexpr size_t kReconItemBytes = 6;
inline constexpr size_t kReconFpBytesV1 = 8;
inline constexpr size_t kReconItemBytesV1 = 8;
// Expected authors per open range at or below which the next round sends
// item hashes instead of child fingerprints.
inline constexpr uint64_t kReconLeafItems = 4;
// Above this many authors on either side the old RANGES path is used.
inline constexpr uint64_t kReconMaxAuthors = uint64_t{1} << 17;

// RECON modes (second field of the message). 0 and 1 carry 8-byte
// fingerprints and item hashes, 3 and 4 the same at 6 bytes (compact).
enum ReconMode : uint8_t {
  kReconFpsV1 = 0,
  kReconItemsV1 = 1,
  kReconFallback = 2,
  kReconFps = 3,
  kReconItems = 4,
};
inline constexpr uint8_t kReconMaxMode = kReconItems;

using ReconKey = std::array<uint8_t, 32>;

// BLAKE2b-256("hearth/sync-recon/v1" || nonce_i || nonce_r).
ReconKey DeriveReconKey(std::span<const uint8_t> nonce_i, std::span<const uint8_t> nonce_r);

// The range of depth `depth` (0..kReconMaxDepth) holding `a`.
uint32_t ReconPrefix(const AuthorId& a, uint32_t depth);

// Appends to `out`, for each range p of `open` (sorted, depth `depth`) and
// each child c in 0..b-1, the fingerprint of child (p << 3 | c) at depth
// depth + 1 over `heads`: the first `fp_bytes` bytes of BLAKE2b-256(key ||
// 'R' || depth+1 || prefix u32 BE || for each author of the child in sorted
// order: author || seq u64 BE || head hash).
void ReconChildFps(const ReconKey& key, const Heads& heads, std::span<const uint32_t> open, uint32_t depth,
                   Bytes* out, size_t fp_bytes = kReconFpBytes);

// The item hash of one head: the first `item_bytes` (<= 8) bytes of
// BLAKE2b-256(key || 'I' || author || seq u64 BE || head hash), as a
// big-endian number.
uint64_t ReconItem(const ReconKey& key, const AuthorId& a, const FeedHead& h, size_t item_bytes = kReconItemBytes);

// Whether `a` lies in one of the sorted ranges `open` at depth `depth`.
bool ReconInOpen(std::span<const uint32_t> open, uint32_t depth, const AuthorId& a);

}  // namespace hearth::sync
