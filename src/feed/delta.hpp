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
inline constexpr std::string_view kSignContext = "hearth/delta/v1";
inline constexpr size_t kMaxScopeBytes = 128;

struct DeltaHeader {
  AuthorId author;
  uint64_t seq = 0;          // 1, 2, 3, ... per author
  crypto::Hash prev{};       // hash of delta seq-1; all zero for seq 1
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
  uint8_t version = kDeltaFormatV1;          // kDeltaFormatV1 or kDeltaFormatV2
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
                        Compression compression = Compression::kAuto);

// Low level: seals `plaintext` as the AEAD plaintext of a delta of format
// `version` (kDeltaFormatV1 or kDeltaFormatV2) without looking at it. For
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
// larger than max_bytes.
Result<ParsedDelta> ParseDelta(std::span<const uint8_t> bytes, uint64_t max_bytes = uint64_t{16} << 20);

// kUnauthenticated unless the signature verifies under header.author.
Status VerifyDelta(const ParsedDelta& delta);

// Decrypts the payload, and decompresses it for a version-2 delta.
// kUnauthenticated if the key is wrong or bytes were changed. Version 2:
// kCorruption for an invalid zstd frame (see DecompressPayload),
// kResourceExhausted when the frame declares more than max_payload_bytes
// decompressed (checked before allocating). A version-1 payload is bounded
// by the delta size ParseDelta checked and is not compared with
// max_payload_bytes. The result still has to pass codec::DecodePayload,
// which accepts only the canonical encoding.
Result<Bytes> OpenDelta(const ParsedDelta& delta, const crypto::SecretBytes& scope_key,
                        uint64_t max_payload_bytes = kMaxCompressedPayloadBytes);

// Canonical header bytes (version byte + msgpack header), the associated data.
Bytes EncodeHeader(const DeltaHeader& header, uint8_t version = kDeltaFormatV1);

}  // namespace hearth::feed
