// Deltas: the signed, encrypted unit of replication (docs/delta-format.md).
//
//   delta := 0x01 or 0x02 (format version)
//            header  (msgpack array of 8, canonical)
//            nonce   (msgpack bin, 24 bytes)
//            body    (msgpack bin: XChaCha20-Poly1305 ciphertext of the payload
//                     (0x01) or of one zstd frame of the payload (0x02))
//            sig     (64 raw bytes, Ed25519)
//   associated data = bytes from the version byte to the end of the header
//   hash            = BLAKE2b-256 of bytes from the version byte to the end of body
//   sig             = Ed25519 over "hearth/delta/v1" || hash, by header.author
//
// Anyone can check structure, signature and chain without the scope key.
//
// Versions 3 and 4 (detachable bodies; 0x04 = zstd as 0x02) keep the layout
// but sign the header and a hash of the body, so that the delta can travel
// and be stored as a stub (no nonce, no body) that still verifies and chains:
//   body_hash = BLAKE2b-256(nonce || ciphertext)
//   hash      = BLAKE2b-256(version || header || body_hash || u64be(len(ciphertext)))
//   sig       = Ed25519 over "hearth/delta/v3" || hash
//   stub     := version, header, bin(32) body_hash, uint len(ciphertext), sig
//
// Versions 5 and 6 (lanes; 0x06 = zstd as 0x04) are versions 3 and 4 byte
// for byte except the version byte and the signing context
// "hearth/delta/v5", so that no v3/v4 signature is ever valid for v5/v6 and
// no v5/v6 signature for v3/v4. What changes is the chain rule, which this
// layer does not check: seq and prev count per lane (author, scope), not
// per author (docs/delta-format.md, "Versions 5 and 6 (lanes)").
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "crypto/crypto.hpp"
#include "crdt/hlc.hpp"
#include "feed/compress.hpp"
#include "hearth/status.hpp"
#include "hearth/value.hpp"

namespace hearth::feed {

inline constexpr uint8_t kDeltaFormatV1 = 0x01;  // AEAD plaintext = payload
inline constexpr uint8_t kDeltaFormatV2 = 0x02;  // AEAD plaintext = zstd frame of the payload
inline constexpr uint8_t kDeltaFormatV3 = 0x03;  // detachable body, AEAD plaintext = payload
inline constexpr uint8_t kDeltaFormatV4 = 0x04;  // detachable body, AEAD plaintext = zstd frame
inline constexpr uint8_t kDeltaFormatV5 = 0x05;  // lane chain, detachable, AEAD plaintext = payload
inline constexpr uint8_t kDeltaFormatV6 = 0x06;  // lane chain, detachable, AEAD plaintext = zstd frame
inline constexpr std::string_view kSignContext = "hearth/delta/v1";
inline constexpr std::string_view kSignContextV3 = "hearth/delta/v3";
inline constexpr std::string_view kSignContextV5 = "hearth/delta/v5";

// Versions 5 and 6: seq and prev count per lane (author, scope) instead of
// per author. The format layer cannot check that (it sees one delta); the
// replica's chain rule does (store: lane LaneOf(version, scope)).
inline constexpr bool IsLaneVersion(uint8_t version) {
  return version == kDeltaFormatV5 || version == kDeltaFormatV6;
}
// Versions 3 to 6: the body can be detached (a stub verifies and chains).
inline constexpr bool Detachable(uint8_t version) {
  return version == kDeltaFormatV3 || version == kDeltaFormatV4 || IsLaneVersion(version);
}
// Versions 2, 4 and 6: the AEAD plaintext is a zstd frame of the payload.
inline constexpr bool Compressed(uint8_t version) {
  return version == kDeltaFormatV2 || version == kDeltaFormatV4 || version == kDeltaFormatV6;
}
// The signing context of a delta of `version` (a known version).
inline constexpr std::string_view SignContextOf(uint8_t version) {
  return IsLaneVersion(version) ? kSignContextV5 : Detachable(version) ? kSignContextV3 : kSignContext;
}
inline constexpr size_t kMaxScopeBytes = 128;

struct DeltaHeader {
  AuthorId author;
  uint64_t seq = 0;          // 1, 2, 3, ... per author (versions 5/6: per lane)
  crypto::Hash prev{};       // hash of delta seq-1 (5/6: in the lane); all zero for seq 1
  std::string scope;         // 1..128 bytes of UTF-8
  uint32_t epoch = 0;        // scope key epoch
  crdt::Hlc hlc_min = 0;     // smallest op HLC
  crdt::Hlc hlc_max = 0;     // largest op HLC
  uint32_t op_count = 0;
  bool operator==(const DeltaHeader&) const = default;
};

// A structurally valid delta. Spans point into the bytes given to Parse and
// live as long as they do.
struct ParsedDelta {
  DeltaHeader header;
  std::span<const uint8_t> associated_data;  // version byte + header
  crypto::Nonce nonce{};
  std::span<const uint8_t> ciphertext;
  crypto::Signature signature{};
  crypto::Hash hash{};
  uint8_t version = kDeltaFormatV1;          // kDeltaFormatV1 .. kDeltaFormatV6
  // A stub (version 3 to 6 only): nonce is zero and ciphertext empty; the body
  // is known only by body_hash and body_size. It verifies and chains, but
  // OpenDelta refuses it.
  bool stub = false;
  crypto::Hash body_hash{};   // versions 3-6: BLAKE2b-256(nonce || ciphertext)
  uint64_t body_size = 0;     // ciphertext bytes (stub or full)
};

// Which family of versions SealDelta writes.
enum class Layout : uint8_t {
  kAttached,    // version 1 or 2: the signature covers the body itself
  kDetachable,  // version 3 or 4: the signature covers the body's hash
  kLane,        // version 5 or 6: as kDetachable, seq/prev per (author, scope)
};

// How SealDelta stores the payload.
enum class Compression : uint8_t {
  // Version 2 (zstd) when the payload is kCompressMinBytes ..
  // kMaxCompressedPayloadBytes and the frame saves at least 1/8 of it;
  // otherwise version 1.
  kAuto,
  kNone,  // always version 1
  kZstd,  // always version 2 (kInvalidArgument above kMaxCompressedPayloadBytes)
};

// Encrypts `payload` (compressed first, per `compression`) with `scope_key`,
// signs with `signer` (whose public key must equal header.author). `nonce`
// empty = random.
Result<Bytes> SealDelta(const DeltaHeader& header, std::span<const uint8_t> payload,
                        const crypto::SecretBytes& scope_key,
                        const crypto::SigningKeyPair& signer,
                        const crypto::Nonce* nonce = nullptr,
                        Compression compression = Compression::kAuto,
                        Layout layout = Layout::kAttached);

// Signing apart from sealing, so that a group commit can sign its deltas
// on several cores (src/store/group_commit.cpp): SealDeltaUnsigned is
// SealDelta with kAuto compression and `layout` (kDetachable or kLane;
// kAttached is kInvalidArgument), but leaves the
// signature as 64 zero bytes and sets `to_sign` to the delta's hash (which is
// what `prev` names: the chain does not depend on the signature).
// SignSealedDelta then writes the signature into the delta's last 64 bytes,
// under the signing context of the delta's version (its first byte).
Result<Bytes> SealDeltaUnsigned(const DeltaHeader& header, std::span<const uint8_t> payload,
                                const crypto::SecretBytes& scope_key, const crypto::SigningKeyPair& signer,
                                crypto::Hash& to_sign, Layout layout = Layout::kDetachable);
void SignSealedDelta(Bytes& delta, const crypto::Hash& to_sign, const crypto::SigningKeyPair& signer);

// Low level: seals `plaintext` as the AEAD plaintext of a delta of format
// `version` (kDeltaFormatV1 .. kDeltaFormatV6) without looking at it. For
// test vectors and for tests that need deltas with invalid content; use
// SealDelta otherwise.
Result<Bytes> SealDeltaPlaintext(uint8_t version, const DeltaHeader& header,
                                 std::span<const uint8_t> plaintext,
                                 const crypto::SecretBytes& scope_key,
                                 const crypto::SigningKeyPair& signer,
                                 const crypto::Nonce* nonce = nullptr);

// Structure only: version byte, canonical header, sizes, trailing bytes,
// seq >= 1, hlc_min <= hlc_max, scope length. Computes the hash. Does not
// check the signature. kCorruption on any defect; kResourceExhausted when
// larger than max_bytes. Accepts a stub of a version 3 to 6 delta
// (ParsedDelta::stub); a caller that needs the body checks that flag.
// Versions 5/6 parse like 3/4; whether the caller can apply them (lane
// chains) is its own check (IsLaneVersion).
Result<ParsedDelta> ParseDelta(std::span<const uint8_t> bytes, uint64_t max_bytes = uint64_t{16} << 20);

// kUnauthenticated unless the signature verifies under header.author.
Status VerifyDelta(const ParsedDelta& delta);

// Decrypts the payload, and decompresses it for a version 2/4/6 delta.
// kUnauthenticated if the key is wrong or bytes were changed. Version 2:
// kCorruption for an invalid zstd frame (see DecompressPayload),
// kResourceExhausted when the frame declares more than max_payload_bytes
// decompressed (checked before allocating). A version-1 payload is bounded
// by the delta size ParseDelta checked and is not compared with
// max_payload_bytes. The result still has to pass codec::DecodePayload,
// which accepts only the canonical encoding.
Result<Bytes> OpenDelta(const ParsedDelta& delta, const crypto::SecretBytes& scope_key,
                        uint64_t max_payload_bytes = kMaxCompressedPayloadBytes);

// The stub of a full version 3 to 6 delta (`bytes` as given to ParseDelta,
// `delta` its parse): kInvalidArgument for a version 1/2 delta or a stub.
Result<Bytes> MakeStub(const ParsedDelta& delta);

// Canonical header bytes (version byte + msgpack header), the associated data.
Bytes EncodeHeader(const DeltaHeader& header, uint8_t version = kDeltaFormatV1);

}  // namespace hearth::feed
