// The RECON test vectors of docs/protocol.md ("Recursive reconciliation"):
// the session key, the 8 child fingerprints of the root and one item hash
// (8 bytes for the first RECON, 6 for compact RECON), computed independently (Python hashlib.blake2b) from the formulas there.
#include <doctest/doctest.h>

#include "base/bytes.hpp"
#include "sync/recon.hpp"

namespace hearth {
namespace {

TEST_CASE("recon vectors: key, child fingerprints of the root, item hash") {
  const std::array<uint8_t, 32> ni = [] { std::array<uint8_t, 32> a; a.fill(0x4e); return a; }();
  const std::array<uint8_t, 32> nr = [] { std::array<uint8_t, 32> a; a.fill(0x52); return a; }();
  const sync::ReconKey key = sync::DeriveReconKey(ni, nr);
  CHECK(base::ToHex(key) == "6e8dff25772ebba5cc1f1546d12084dff1b970d7178796dfe62ccde840aa026e");

  AuthorId a1, a2;
  a1.bytes.fill(0xaa);
  a2.bytes.fill(0x00);
  a2.bytes[0] = 0x05;
  FeedHead h1, h2;
  h1.seq = 42;
  h1.hash.fill(0x11);
  h2.seq = 1;
  h2.hash.fill(0x22);
  Heads heads{{a1, h1}, {a2, h2}};
  CHECK(sync::ReconPrefix(a1, 1) == 5);
  CHECK(sync::ReconPrefix(a2, 1) == 0);
  CHECK(sync::ReconPrefix(a1, 8) == 0xaaaaaa);

  const std::vector<uint32_t> root{0};
  // The first RECON (modes 0 and 1): 8 bytes.
  Bytes fps;
  sync::ReconChildFps(key, heads, root, 0, &fps, sync::kReconFpBytesV1);
  CHECK(base::ToHex(fps) ==
        "438dece06093b9024a20bc7c3cb6813870ac86f3dd6c98f1a4270cb4217163b7"
        "b117326c4a49068b77ef34479938d2be6090d5f02ea451588e9587840c0ff05d");
  CHECK(sync::ReconItem(key, a1, h1, sync::kReconItemBytesV1) == 0xf3ecf6795b4d4e7cULL);
  // Compact RECON (modes 3 and 4): the first 6 bytes of the same hashes.
  Bytes compact;
  sync::ReconChildFps(key, heads, root, 0, &compact);
  CHECK(base::ToHex(compact) ==
        "438dece06093" "4a20bc7c3cb6" "70ac86f3dd6c" "a4270cb42171"
        "b117326c4a49" "77ef34479938" "6090d5f02ea4" "8e9587840c0f");
  CHECK(sync::ReconItem(key, a1, h1) == 0xf3ecf6795b4dULL);
}

}  // namespace
}  // namespace hearth
