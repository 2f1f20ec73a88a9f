// Recursive range reconciliation helpers (docs/protocol.md).
#include "sync/recon.hpp"

#include <algorithm>
#include <string_view>

#include "crypto/crypto.hpp"

namespace hearth::sync {

namespace {

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

void StartKeyed(crypto::Hasher& h, const ReconKey& key, uint8_t tag) {
  h.Update(key);
  const uint8_t t[1] = {tag};
  h.Update(t);
}

}  // namespace

ReconKey DeriveReconKey(std::span<const uint8_t> nonce_i, std::span<const uint8_t> nonce_r) {
  static constexpr std::string_view kCtx = "hearth/sync-recon/v1";
  crypto::Hasher h;
  h.Update({reinterpret_cast<const uint8_t*>(kCtx.data()), kCtx.size()});
  h.Update(nonce_i);
  h.Update(nonce_r);
  return h.Final();
}

uint32_t ReconPrefix(const AuthorId& a, uint32_t depth) {
  const uint32_t top = uint32_t{a.bytes[0]} << 16 | uint32_t{a.bytes[1]} << 8 | a.bytes[2];
  return depth == 0 ? 0 : top >> (24 - kReconBitsPerLevel * depth);
}

void ReconChildFps(const ReconKey& key, const Heads& heads, std::span<const uint32_t> open, uint32_t depth,
                   Bytes* out, size_t fp_bytes) {
  const uint32_t child_depth = depth + 1;
  // Authors are sorted, so the authors of each child form a contiguous run
  // and the children of sorted ranges come in the same order: one pass.
  auto it = heads.begin();
  for (uint32_t p : open) {
    for (uint32_t c = 0; c < kReconBranch; ++c) {
      const uint32_t target = p << kReconBitsPerLevel | c;
      crypto::Hasher h;
      StartKeyed(h, key, 'R');
      uint8_t hdr[5] = {static_cast<uint8_t>(child_depth), static_cast<uint8_t>(target >> 24),
                        static_cast<uint8_t>(target >> 16), static_cast<uint8_t>(target >> 8),
                        static_cast<uint8_t>(target)};
      h.Update(hdr);
      while (it != heads.end() && ReconPrefix(it->first, child_depth) < target) ++it;
      for (; it != heads.end() && ReconPrefix(it->first, child_depth) == target; ++it) {
        uint8_t seq[8];
        PutU64(seq, it->second.seq);
        h.Update(it->first.bytes);
        h.Update(seq);
        h.Update(it->second.hash);
      }
      const auto fp = h.Final();
      out->insert(out->end(), fp.begin(), fp.begin() + static_cast<std::ptrdiff_t>(fp_bytes));
    }
  }
}

uint64_t ReconItem(const ReconKey& key, const AuthorId& a, const FeedHead& fh, size_t item_bytes) {
  crypto::Hasher h;
  StartKeyed(h, key, 'I');
  uint8_t seq[8];
  PutU64(seq, fh.seq);
  h.Update(a.bytes);
  h.Update(seq);
  h.Update(fh.hash);
  const auto d = h.Final();
  uint64_t v = 0;
  for (size_t i = 0; i < item_bytes; ++i) v = v << 8 | d[i];
  return v;
}

bool ReconInOpen(std::span<const uint32_t> open, uint32_t depth, const AuthorId& a) {
  return std::binary_search(open.begin(), open.end(), ReconPrefix(a, depth));
}

}  // namespace hearth::sync
