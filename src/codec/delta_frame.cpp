// Hand-written canonical msgpack for the delta frame (see delta_frame.hpp).
// The grammar is fixed and tiny, so a direct reader is simpler to audit than
// a generic decoder: every read is preceded by a length check against the
// remaining input, and every non-minimal form is refused.
#include "codec/delta_frame.hpp"

#include <cstring>
#include <string_view>

namespace hearth::codec {
namespace {

void PutBE(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void AppendUint(uint64_t v, Bytes& out) {
  if (v <= 0x7f) {
    out.push_back(static_cast<uint8_t>(v));  // positive fixint
  } else if (v <= 0xff) {
    out.push_back(0xcc);
    PutBE(out, v, 1);
  } else if (v <= 0xffff) {
    out.push_back(0xcd);
    PutBE(out, v, 2);
  } else if (v <= 0xffffffffu) {
    out.push_back(0xce);
    PutBE(out, v, 4);
  } else {
    out.push_back(0xcf);
    PutBE(out, v, 8);
  }
}

void AppendStr(std::string_view s, Bytes& out) {
  const uint64_t n = s.size();
  if (n <= 31) {
    out.push_back(static_cast<uint8_t>(0xa0 | n));
  } else if (n <= 0xff) {
    out.push_back(0xd9);
    PutBE(out, n, 1);
  } else if (n <= 0xffff) {
    out.push_back(0xda);
    PutBE(out, n, 2);
  } else {
    out.push_back(0xdb);
    PutBE(out, n, 4);
  }
  out.insert(out.end(), s.begin(), s.end());
}

// Bounds-checked cursor over the input.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }

  Status Byte(const char* what, uint8_t* out) {
    if (remaining() < 1) return Missing(what);
    *out = b_[pos_++];
    return Status::Ok();
  }
  Status BigEndian(const char* what, int n, uint64_t* out) {
    if (remaining() < static_cast<size_t>(n)) return Missing(what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | b_[pos_++];
    *out = v;
    return Status::Ok();
  }
  Status Take(const char* what, uint64_t n, std::span<const uint8_t>* out) {
    if (n > remaining()) return Missing(what);
    *out = b_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return Status::Ok();
  }

  // Canonical unsigned integer (positive fixint or uint8/16/32/64, smallest).
  Status Uint(const char* what, uint64_t* out) {
    uint8_t tag = 0;
    HEARTH_RETURN_IF_ERROR(Byte(what, &tag));
    uint64_t v = 0;
    uint64_t min = 0;
    if (tag <= 0x7f) {
      *out = tag;
      return Status::Ok();
    } else if (tag == 0xcc) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 1, &v));
      min = 0x80;
    } else if (tag == 0xcd) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 2, &v));
      min = 0x100;
    } else if (tag == 0xce) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 4, &v));
      min = 0x10000;
    } else if (tag == 0xcf) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 8, &v));
      min = 0x100000000ull;
    } else {
      return Bad(what, "is not a msgpack unsigned integer", tag);
    }
    if (v < min) return Bad(what, "uses a longer integer encoding than needed", tag);
    *out = v;
    return Status::Ok();
  }

  // Canonical bin (bin8/16/32, smallest) of any length.
  Status Bin(const char* what, std::span<const uint8_t>* out) {
    uint8_t tag = 0;
    HEARTH_RETURN_IF_ERROR(Byte(what, &tag));
    uint64_t n = 0;
    uint64_t min = 0;
    if (tag == 0xc4) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 1, &n));
    } else if (tag == 0xc5) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 2, &n));
      min = 0x100;
    } else if (tag == 0xc6) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 4, &n));
      min = 0x10000;
    } else {
      return Bad(what, "is not a msgpack bin", tag);
    }
    if (n < min) return Bad(what, "uses a longer bin length than needed", tag);
    return Take(what, n, out);
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
    uint8_t tag = 0;
    HEARTH_RETURN_IF_ERROR(Byte(what, &tag));
    uint64_t n = 0;
    uint64_t min = 0;
    if ((tag & 0xe0) == 0xa0) {
      n = tag & 0x1f;
    } else if (tag == 0xd9) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 1, &n));
      min = 32;
    } else if (tag == 0xda) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 2, &n));
      min = 0x100;
    } else if (tag == 0xdb) {
      HEARTH_RETURN_IF_ERROR(BigEndian(what, 4, &n));
      min = 0x10000;
    } else {
      return Bad(what, "is not a msgpack str", tag);
    }
    if (n < min) return Bad(what, "uses a longer str length than needed", tag);
    std::span<const uint8_t> s;
    HEARTH_RETURN_IF_ERROR(Take(what, n, &s));
    out->assign(reinterpret_cast<const char*>(s.data()), s.size());
    return Status::Ok();
  }

 private:
  Status Missing(const char* what) const {
    return Status::Corruption(std::string("delta truncated in ") + what + " at offset " +
                              std::to_string(pos_));
  }
  Status Bad(const char* what, const char* why, uint8_t tag) const {
    static constexpr char kHex[] = "0123456789abcdef";
    return Status::Corruption(std::string("delta ") + what + " " + why + " (tag 0x" +
                              kHex[tag >> 4] + kHex[tag & 15] + ")");
  }

  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace

void AppendMsgpackBin(std::span<const uint8_t> data, Bytes& out) {
  const uint64_t n = data.size();
  if (n <= 0xff) {
    out.push_back(0xc4);
    PutBE(out, n, 1);
  } else if (n <= 0xffff) {
    out.push_back(0xc5);
    PutBE(out, n, 2);
  } else {
    out.push_back(0xc6);
    PutBE(out, n, 4);
  }
  out.insert(out.end(), data.begin(), data.end());
}

void AppendDeltaHeader(const DeltaFrameHeader& h, Bytes& out) {
  out.push_back(static_cast<uint8_t>(0x90 | kDeltaHeaderFields));  // fixarray(8)
  AppendMsgpackBin(h.author, out);
  AppendUint(h.seq, out);
  AppendMsgpackBin(h.prev, out);
  AppendStr(h.scope, out);
  AppendUint(h.epoch, out);
  AppendUint(h.hlc_min, out);
  AppendUint(h.hlc_max, out);
  AppendUint(h.op_count, out);
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

  HEARTH_RETURN_IF_ERROR(r.FixedBin("nonce", &f.nonce));

  std::span<const uint8_t> body;
  HEARTH_RETURN_IF_ERROR(r.Bin("body", &body));
  if (body.size() < kDeltaMinBodyBytes) {
    return Status::Corruption("delta body shorter than the 16-byte AEAD tag");
  }
  f.body_end = r.pos();
  f.body_size = body.size();
  f.body_offset = f.body_end - f.body_size;

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
