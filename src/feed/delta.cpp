// Deltas: seal, parse, verify, open (see delta.hpp, docs/delta-format.md).
#include "feed/delta.hpp"

#include <cstring>
#include <limits>

#include "base/text.hpp"
#include "codec/delta_frame.hpp"

namespace hearth::feed {
namespace {

static_assert(codec::kDeltaKeyBytes == sizeof(AuthorId{}.bytes));
static_assert(codec::kDeltaKeyBytes == sizeof(crypto::Hash));
static_assert(codec::kDeltaNonceBytes == sizeof(crypto::Nonce));
static_assert(codec::kDeltaSigBytes == sizeof(crypto::Signature));
static_assert(codec::kDeltaMinBodyBytes == crypto::kAeadTagBytes);

bool AllZero(const crypto::Hash& h) {
  for (uint8_t b : h) {
    if (b != 0) return false;
  }
  return true;
}

// The rules on header values shared by Seal (kInvalidArgument) and Parse
// (kCorruption). Empty string when valid.
std::string HeaderDefect(uint64_t seq, const crypto::Hash& prev, std::string_view scope,
                         uint64_t hlc_min, uint64_t hlc_max, uint64_t op_count) {
  if (seq == 0) return "seq must be >= 1";
  if (seq == 1 && !AllZero(prev)) return "prev must be all zero for seq 1";
  if (scope.empty()) return "scope is empty";
  if (scope.size() > kMaxScopeBytes) {
    return "scope is " + std::to_string(scope.size()) + " bytes, more than " +
           std::to_string(kMaxScopeBytes);
  }
  if (!ValidUtf8(scope)) return "scope is not valid UTF-8";
  if (hlc_min > hlc_max) return "hlc_min > hlc_max";
  if (op_count == 0) return "op_count is 0";
  return {};
}

// The three contexts have one length, so the signed message has one size.
static_assert(kSignContext.size() == kSignContextV3.size() && kSignContext.size() == kSignContextV5.size());

// context || hash: the exact message the author signs. The context is
// "hearth/delta/v1" (versions 1/2), "hearth/delta/v3" (3/4) or
// "hearth/delta/v5" (5/6): a signature is valid for one family only.
std::array<uint8_t, kSignContext.size() + sizeof(crypto::Hash)> SignedMessage(uint8_t version,
                                                                               const crypto::Hash& hash) {
  const std::string_view context = SignContextOf(version);
  std::array<uint8_t, kSignContext.size() + sizeof(crypto::Hash)> m{};
  std::memcpy(m.data(), context.data(), context.size());
  std::memcpy(m.data() + context.size(), hash.data(), hash.size());
  return m;
}

// Versions 3 to 6: BLAKE2b-256(nonce || ciphertext).
crypto::Hash BodyHash(std::span<const uint8_t> nonce, std::span<const uint8_t> ciphertext) {
  crypto::Hasher h;
  h.Update(nonce);
  h.Update(ciphertext);
  return h.Final();
}

// Versions 3 to 6: BLAKE2b-256(version || header || body_hash || u64be(body_size)).
// Computable from a stub: this is what `prev` names and what is signed.
crypto::Hash DetachedHash(std::span<const uint8_t> version_and_header, const crypto::Hash& body_hash,
                          uint64_t body_size) {
  uint8_t size_be[8];
  for (int i = 0; i < 8; ++i) size_be[i] = static_cast<uint8_t>(body_size >> (56 - 8 * i));
  crypto::Hasher h;
  h.Update(version_and_header);
  h.Update(body_hash);
  h.Update(size_be);
  return h.Final();
}

bool KnownVersion(uint8_t v) { return v >= kDeltaFormatV1 && v <= kDeltaFormatV6; }

}  // namespace

Bytes EncodeHeader(const DeltaHeader& header, uint8_t version) {
  codec::DeltaFrameHeader fh;
  fh.author = header.author.bytes;
  fh.seq = header.seq;
  fh.prev = header.prev;
  fh.scope = header.scope;
  fh.epoch = header.epoch;
  fh.hlc_min = header.hlc_min;
  fh.hlc_max = header.hlc_max;
  fh.op_count = header.op_count;
  Bytes out;
  out.reserve(1 + 1 + 2 * 34 + 2 + header.scope.size() + 4 * 9);
  out.push_back(version);
  codec::AppendDeltaHeader(fh, out);
  return out;
}

namespace {

// SealDeltaPlaintext; with `sign_later` set (versions 3 to 6 only), leaves the
// signature as 64 zero bytes and stores the hash to sign there instead.
Result<Bytes> SealPlaintext(uint8_t version, const DeltaHeader& header, std::span<const uint8_t> plaintext,
                            const crypto::SecretBytes& scope_key, const crypto::SigningKeyPair& signer,
                            const crypto::Nonce* nonce, crypto::Hash* sign_later) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  if (!KnownVersion(version)) {
    return Status::InvalidArgument("SealDelta: unknown delta format version " + std::to_string(version));
  }
  if (std::string d = HeaderDefect(header.seq, header.prev, header.scope, header.hlc_min,
                                   header.hlc_max, header.op_count);
      !d.empty()) {
    return Status::InvalidArgument("SealDelta: " + d);
  }
  if (signer.public_key != header.author) {
    return Status::InvalidArgument("SealDelta: signer " + signer.public_key.ToHex() +
                                   " is not the header's author " + header.author.ToHex());
  }
  if (signer.secret_key.size() != crypto::kSignSecretBytes ||
      !crypto::ConstantTimeEqual(signer.secret_key.span().subspan(32), header.author.bytes)) {
    return Status::InvalidArgument("SealDelta: signer's secret key does not match its public key");
  }
  if (scope_key.size() != crypto::kAeadKeyBytes) {
    return Status::InvalidArgument("SealDelta: scope key must be 32 bytes, got " +
                                   std::to_string(scope_key.size()));
  }
  if (plaintext.size() > 0xffffffffull - crypto::kAeadTagBytes) {
    return Status::InvalidArgument("SealDelta: payload too large");
  }

  const crypto::Nonce n = nonce != nullptr ? *nonce : crypto::RandomNonce();
  Bytes out = EncodeHeader(header, version);
  const size_t ad_len = out.size();
  codec::AppendMsgpackBin(n, out);
  {
    Bytes ct = crypto::AeadEncrypt(scope_key, n, plaintext, std::span(out.data(), ad_len));
    out.reserve(out.size() + 5 + ct.size() + sizeof(crypto::Signature));
    codec::AppendMsgpackBin(ct, out);
    if (Detachable(version)) {
      const crypto::Hash body_hash = BodyHash(n, ct);
      const crypto::Hash hash = DetachedHash(std::span(out.data(), ad_len), body_hash, ct.size());
      if (sign_later != nullptr) {
        *sign_later = hash;
        out.resize(out.size() + sizeof(crypto::Signature), 0);
        return out;
      }
      const crypto::Signature sig = crypto::Sign(signer.secret_key, SignedMessage(version, hash));
      out.insert(out.end(), sig.begin(), sig.end());
      return out;
    }
  }
  if (sign_later != nullptr) return Status::InvalidArgument("SealDelta: only versions 3 to 6 can be signed later");
  const crypto::Hash hash = crypto::HashBytes(out);
  const crypto::Signature sig = crypto::Sign(signer.secret_key, SignedMessage(version, hash));
  out.insert(out.end(), sig.begin(), sig.end());
  return out;
}

Result<Bytes> Seal(const DeltaHeader& header, std::span<const uint8_t> payload, const crypto::SecretBytes& scope_key,
                   const crypto::SigningKeyPair& signer, const crypto::Nonce* nonce, Compression compression,
                   Layout layout, crypto::Hash* sign_later) {
  uint8_t plain_version = kDeltaFormatV1;
  uint8_t zstd_version = kDeltaFormatV2;
  switch (layout) {
    case Layout::kAttached:
      break;
    case Layout::kDetachable:
      plain_version = kDeltaFormatV3;
      zstd_version = kDeltaFormatV4;
      break;
    case Layout::kLane:
      plain_version = kDeltaFormatV5;
      zstd_version = kDeltaFormatV6;
      break;
    default:
      return Status::InvalidArgument("SealDelta: unknown layout " + std::to_string(static_cast<int>(layout)));
  }
  if (compression == Compression::kZstd ||
      (compression == Compression::kAuto && payload.size() >= kCompressMinBytes &&
       payload.size() <= kMaxCompressedPayloadBytes)) {
    if (payload.empty() || payload.size() > kMaxCompressedPayloadBytes) {
      return Status::InvalidArgument("SealDelta: a payload of " + std::to_string(payload.size()) +
                                     " bytes cannot be compressed (1.." +
                                     std::to_string(kMaxCompressedPayloadBytes) + ")");
    }
    auto frame = CompressPayload(payload);
    if (!frame.ok() && compression == Compression::kZstd) return frame.status().WithContext("SealDelta");
    // kAuto keeps the frame only when it saves at least 1/8 of the payload
    // (otherwise decompressing on every replica costs more than it saves),
    // and falls back to version 1 if libzstd failed (out of memory).
    if (frame.ok() &&
        (compression == Compression::kZstd || frame->size() <= payload.size() - payload.size() / 8)) {
      return SealPlaintext(zstd_version, header, *frame, scope_key, signer, nonce, sign_later);
    }
  }
  return SealPlaintext(plain_version, header, payload, scope_key, signer, nonce, sign_later);
}

}  // namespace

Result<Bytes> SealDeltaPlaintext(uint8_t version, const DeltaHeader& header, std::span<const uint8_t> plaintext,
                                 const crypto::SecretBytes& scope_key, const crypto::SigningKeyPair& signer,
                                 const crypto::Nonce* nonce) {
  return SealPlaintext(version, header, plaintext, scope_key, signer, nonce, nullptr);
}

Result<Bytes> SealDelta(const DeltaHeader& header, std::span<const uint8_t> payload,
                        const crypto::SecretBytes& scope_key, const crypto::SigningKeyPair& signer,
                        const crypto::Nonce* nonce, Compression compression, Layout layout) {
  return Seal(header, payload, scope_key, signer, nonce, compression, layout, nullptr);
}

Result<Bytes> SealDeltaUnsigned(const DeltaHeader& header, std::span<const uint8_t> payload,
                                const crypto::SecretBytes& scope_key, const crypto::SigningKeyPair& signer,
                                crypto::Hash& to_sign, Layout layout) {
  if (layout == Layout::kAttached) {
    return Status::InvalidArgument("SealDeltaUnsigned: versions 1/2 sign their body and cannot be signed later");
  }
  return Seal(header, payload, scope_key, signer, nullptr, Compression::kAuto, layout, &to_sign);
}

void SignSealedDelta(Bytes& delta, const crypto::Hash& to_sign, const crypto::SigningKeyPair& signer) {
  // The context is the delta's version's: SealDeltaUnsigned wrote the
  // version byte first (3 to 6).
  const crypto::Signature sig = crypto::Sign(signer.secret_key, SignedMessage(delta.front(), to_sign));
  std::copy(sig.begin(), sig.end(), delta.end() - static_cast<std::ptrdiff_t>(sig.size()));
}

Result<ParsedDelta> ParseDelta(std::span<const uint8_t> bytes, uint64_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return Status::ResourceExhausted("delta is " + std::to_string(bytes.size()) +
                                     " bytes, limit " + std::to_string(max_bytes));
  }
  if (bytes.empty()) return Status::Corruption("delta is empty");
  if (!KnownVersion(bytes[0])) {
    return Status::Corruption("unknown delta format version " + std::to_string(bytes[0]));
  }
  auto frame = codec::ParseDeltaFrame(bytes.subspan(1));
  if (!frame.ok()) return frame.status();
  const codec::DeltaFrame& f = *frame;
  const codec::DeltaFrameHeader& fh = f.header;
  if (f.stub && !Detachable(bytes[0])) {
    return Status::Corruption("delta of version " + std::to_string(bytes[0]) +
                              " cannot be a stub (only versions 3 to 6 detach their body)");
  }

  if (std::string d =
          HeaderDefect(fh.seq, fh.prev, fh.scope, fh.hlc_min, fh.hlc_max, fh.op_count);
      !d.empty()) {
    return Status::Corruption("delta header: " + d);
  }
  if (fh.epoch > std::numeric_limits<uint32_t>::max()) {
    return Status::Corruption("delta header: epoch exceeds 32 bits");
  }
  if (fh.op_count > std::numeric_limits<uint32_t>::max()) {
    return Status::Corruption("delta header: op_count exceeds 32 bits");
  }

  ParsedDelta d;
  d.version = bytes[0];
  d.header.author.bytes = fh.author;
  d.header.seq = fh.seq;
  d.header.prev = fh.prev;
  d.header.scope = fh.scope;
  d.header.epoch = static_cast<uint32_t>(fh.epoch);
  d.header.hlc_min = fh.hlc_min;
  d.header.hlc_max = fh.hlc_max;
  d.header.op_count = static_cast<uint32_t>(fh.op_count);
  d.associated_data = bytes.first(1 + f.header_end);
  d.nonce = f.nonce;
  d.ciphertext = bytes.subspan(1 + f.body_offset, f.body_size);
  d.signature = f.signature;
  d.stub = f.stub;
  if (f.stub) {
    d.body_hash = f.body_hash;
    d.body_size = f.stub_body_size;
  } else {
    d.body_size = f.body_size;
    if (Detachable(d.version)) d.body_hash = BodyHash(d.nonce, d.ciphertext);
  }
  d.hash = Detachable(d.version) ? DetachedHash(d.associated_data, d.body_hash, d.body_size)
                                 : crypto::HashBytes(bytes.first(1 + f.body_end));
  return d;
}

Status VerifyDelta(const ParsedDelta& delta) {
  HEARTH_RETURN_IF_ERROR(crypto::Init());
  if (!KnownVersion(delta.version)) {
    return Status::Unauthenticated("delta of unknown format version " + std::to_string(delta.version));
  }
  const bool ok = crypto::Verify(delta.header.author, SignedMessage(delta.version, delta.hash), delta.signature);
  if (!ok) {
    return Status::Unauthenticated("delta signature does not verify (author " +
                                   delta.header.author.ToHex() + ", seq " +
                                   std::to_string(delta.header.seq) + ")");
  }
  return Status::Ok();
}

Result<Bytes> OpenDelta(const ParsedDelta& delta, const crypto::SecretBytes& scope_key,
                        uint64_t max_payload_bytes) {
  if (scope_key.size() != crypto::kAeadKeyBytes) {
    return Status::InvalidArgument("OpenDelta: scope key must be 32 bytes, got " +
                                   std::to_string(scope_key.size()));
  }
  if (delta.stub) {
    return Status::FailedPrecondition("delta author " + delta.header.author.ToHex() + ", seq " +
                                      std::to_string(delta.header.seq) +
                                      " is withheld: only its stub is held, no body to open");
  }
  auto plain =
      crypto::AeadDecrypt(scope_key, delta.nonce, delta.ciphertext, delta.associated_data);
  if (!plain.ok()) {
    if (plain.status().code() == Code::kUnauthenticated) {
      return Status::Unauthenticated("delta body does not decrypt (wrong scope key for epoch " +
                                     std::to_string(delta.header.epoch) +
                                     " or altered bytes; author " + delta.header.author.ToHex() +
                                     ", seq " + std::to_string(delta.header.seq) + ")");
    }
    return plain.status();
  }
  if (!Compressed(delta.version)) return plain;
  auto payload = DecompressPayload(*plain, max_payload_bytes);
  if (!payload.ok()) {
    return payload.status().WithContext("delta author " + delta.header.author.ToHex() + ", seq " +
                                        std::to_string(delta.header.seq));
  }
  return payload;
}

Result<Bytes> MakeStub(const ParsedDelta& delta) {
  if (!Detachable(delta.version)) {
    return Status::InvalidArgument("MakeStub: a version " + std::to_string(delta.version) +
                                   " delta signs its body and cannot be detached");
  }
  if (delta.stub) return Status::InvalidArgument("MakeStub: already a stub");
  Bytes out(delta.associated_data.begin(), delta.associated_data.end());
  out.reserve(out.size() + 34 + 5 + sizeof(crypto::Signature));
  codec::AppendMsgpackBin(delta.body_hash, out);
  codec::AppendMsgpackUint(delta.body_size, out);
  out.insert(out.end(), delta.signature.begin(), delta.signature.end());
  return out;
}

}  // namespace hearth::feed
