// Canonical msgpack for the delta frame (see delta_frame.hpp), on the shared
// grammar of codec/mp.hpp. The frame is fixed and tiny, so a direct reader is
// simpler to audit than a generic decoder: every read is checked against the
// remaining input, and every non-minimal form is refused.
#include "codec/delta_frame.hpp"

#include <cstring>
#include <string_view>

#include "base/bytes.hpp"
#include "codec/mp.hpp"

namespace hearth::codec {
namespace {

// Bounds-checked cursor over the input (mp::Reader), canonical forms only.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : r_(b) {}
  size_t pos() const { return r_.pos(); }
  size_t remaining() const { return r_.remaining(); }

  Status Byte(const char* what, uint8_t* out) {
    if (r_.AtEnd()) return Missing(what);
    std::span<const uint8_t> b;
    r_.Take(1, &b);
    *out = b[0];
    return Status::Ok();
  }
  Status Take(const char* what, uint64_t n, std::span<const uint8_t>* out) {
    if (!r_.Take(n, out)) return Missing(what);
    return Status::Ok();
  }

  // Canonical unsigned integer (positive fixint or uint8/16/32/64, smallest).
  Status Uint(const char* what, uint64_t* out) {
    mp::Head h;
    HEARTH_RETURN_IF_ERROR(Next(what, mp::Kind::kUint, "is not a msgpack unsigned integer", &h));
    if (!h.canonical) return Bad(what, "uses a longer integer encoding than needed", h.tag);
    *out = h.value;
    return Status::Ok();
  }

  // Canonical bin (bin8/16/32, smallest) of any length.
  Status Bin(const char* what, std::span<const uint8_t>* out) {
    mp::Head h;
    HEARTH_RETURN_IF_ERROR(Next(what, mp::Kind::kBin, "is not a msgpack bin", &h));
    if (!h.canonical) return Bad(what, "uses a longer bin length than needed", h.tag);
    return Take(what, h.value, out);
  }

  template <size_t N>
  Status FixedBin(const char* what, std::array<uint8_t, N>* out) {
    std::span<const uint8_t> s;
    HEARTH_RETURN_IF_ERROR(Bin(what, &s));
    if (s.size() != N) {
      return Status::Corruption(std::string("delta ") + what + " must be " + std::to_string(N) +
                                " bytes, got " + std::to_string(s.size()));
    }
    std::memcpy(out->data(), s.data(), N);
    return Status::Ok();
  }

  // Canonical str (fixstr/str8/16/32, smallest). Bytes only; UTF-8 is the
  // caller's check.
  Status Str(const char* what, std::string* out) {
    mp::Head h;
    HEARTH_RETURN_IF_ERROR(Next(what, mp::Kind::kStr, "is not a msgpack str", &h));
    if (!h.canonical) return Bad(what, "uses a longer str length than needed", h.tag);
    std::span<const uint8_t> s;
    HEARTH_RETURN_IF_ERROR(Take(what, h.value, &s));
    out->assign(reinterpret_cast<const char*>(s.data()), s.size());
    return Status::Ok();
  }

 private:
  Status Next(const char* what, mp::Kind kind, const char* not_kind, mp::Head* h) {
    switch (r_.Next(kind, h)) {
      case mp::Read::kOk: return Status::Ok();
      case mp::Read::kWrongKind: return Bad(what, not_kind, h->tag);
      default: return Missing(what);  // kEnd, kShort
    }
  }
  Status Missing(const char* what) const {
    return Status::Corruption(std::string("delta truncated in ") + what + " at offset " +
                              std::to_string(r_.pos()));
  }
  Status Bad(const char* what, const char* why, uint8_t tag) const {
    return Status::Corruption(std::string("delta ") + what + " " + why + " (tag 0x" + base::ToHex(&tag, 1) + ")");
  }

  mp::Reader r_;
};

}  // namespace

void AppendMsgpackBin(std::span<const uint8_t> data, Bytes& out) { mp::PutBin(out, data); }

void AppendMsgpackUint(uint64_t v, Bytes& out) { mp::PutUint(out, v); }

void AppendDeltaHeader(const DeltaFrameHeader& h, Bytes& out) {
  out.push_back(static_cast<uint8_t>(0x90 | kDeltaHeaderFields));  // fixarray(8)
  mp::PutBin(out, h.author);
  mp::PutUint(out, h.seq);
  mp::PutBin(out, h.prev);
  mp::PutStr(out, h.scope);
  mp::PutUint(out, h.epoch);
  mp::PutUint(out, h.hlc_min);
  mp::PutUint(out, h.hlc_max);
  mp::PutUint(out, h.op_count);
}

Result<DeltaFrame> ParseDeltaFrame(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  DeltaFrame f;
  uint8_t tag = 0;
  HEARTH_RETURN_IF_ERROR(r.Byte("header", &tag));
  if (tag != (0x90 | kDeltaHeaderFields)) {
    return Status::Corruption("delta header is not a msgpack fixarray of 8");
  }
  DeltaFrameHeader& h = f.header;
  HEARTH_RETURN_IF_ERROR(r.FixedBin("author", &h.author));
  HEARTH_RETURN_IF_ERROR(r.Uint("seq", &h.seq));
  HEARTH_RETURN_IF_ERROR(r.FixedBin("prev", &h.prev));
  HEARTH_RETURN_IF_ERROR(r.Str("scope", &h.scope));
  HEARTH_RETURN_IF_ERROR(r.Uint("epoch", &h.epoch));
  HEARTH_RETURN_IF_ERROR(r.Uint("hlc_min", &h.hlc_min));
  HEARTH_RETURN_IF_ERROR(r.Uint("hlc_max", &h.hlc_max));
  HEARTH_RETURN_IF_ERROR(r.Uint("op_count", &h.op_count));
  f.header_end = r.pos();

  // `c4 20` (bin8 of 32 bytes) where the nonce (`c4 18`) would be: a stub.
  if (bytes.size() - f.header_end >= 2 && bytes[f.header_end] == 0xc4 &&
      bytes[f.header_end + 1] == kDeltaKeyBytes) {
    f.stub = true;
    HEARTH_RETURN_IF_ERROR(r.FixedBin("body hash", &f.body_hash));
    HEARTH_RETURN_IF_ERROR(r.Uint("body size", &f.stub_body_size));
    if (f.stub_body_size < kDeltaMinBodyBytes || f.stub_body_size > 0xffffffffull) {
      return Status::Corruption("delta stub body size " + std::to_string(f.stub_body_size) +
                                " is outside 16 .. 2^32-1");
    }
    f.body_end = r.pos();
    f.body_offset = f.body_end;
    f.body_size = 0;
  } else {
    HEARTH_RETURN_IF_ERROR(r.FixedBin("nonce", &f.nonce));

    std::span<const uint8_t> body;
    HEARTH_RETURN_IF_ERROR(r.Bin("body", &body));
    if (body.size() < kDeltaMinBodyBytes) {
      return Status::Corruption("delta body shorter than the 16-byte AEAD tag");
    }
    f.body_end = r.pos();
    f.body_size = body.size();
    f.body_offset = f.body_end - f.body_size;
  }

  if (r.remaining() != kDeltaSigBytes) {
    return Status::Corruption("delta must end with exactly 64 signature bytes, found " +
                              std::to_string(r.remaining()));
  }
  std::span<const uint8_t> sig;
  HEARTH_RETURN_IF_ERROR(r.Take("signature", kDeltaSigBytes, &sig));
  std::memcpy(f.signature.data(), sig.data(), kDeltaSigBytes);
  return f;
}

}  // namespace hearth::codec
