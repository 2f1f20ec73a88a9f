#include "codec/mp.hpp"

#include "base/bytes.hpp"

namespace hearth::codec::mp {

// ---------------------------------------------------------------- writer

namespace {

// tag, then the low `n` bytes of v.
void PutHead(Bytes& out, uint8_t tag, uint64_t v, size_t n) {
  out.push_back(tag);
  base::AppendBE(out, v, n);
}

}  // namespace

void PutUint(Bytes& out, uint64_t v) {
  if (v <= 0x7f) out.push_back(static_cast<uint8_t>(v));  // positive fixint
  else if (v <= 0xff) PutHead(out, 0xcc, v, 1);
  else if (v <= 0xffff) PutHead(out, 0xcd, v, 2);
  else if (v <= 0xffffffffu) PutHead(out, 0xce, v, 4);
  else PutHead(out, 0xcf, v, 8);
}

void PutStr(Bytes& out, std::string_view s) {
  const uint64_t n = s.size();
  if (n <= 31) out.push_back(static_cast<uint8_t>(0xa0 | n));
  else if (n <= 0xff) PutHead(out, 0xd9, n, 1);
  else if (n <= 0xffff) PutHead(out, 0xda, n, 2);
  else PutHead(out, 0xdb, n, 4);
  out.insert(out.end(), s.begin(), s.end());
}

void PutBin(Bytes& out, std::span<const uint8_t> b) {
  const uint64_t n = b.size();
  if (n <= 0xff) PutHead(out, 0xc4, n, 1);
  else if (n <= 0xffff) PutHead(out, 0xc5, n, 2);
  else PutHead(out, 0xc6, n, 4);
  out.insert(out.end(), b.begin(), b.end());
}

void PutArray(Bytes& out, uint32_t n) {
  if (n <= 15) out.push_back(static_cast<uint8_t>(0x90 | n));
  else if (n <= 0xffff) PutHead(out, 0xdc, n, 2);
  else PutHead(out, 0xdd, n, 4);
}

// ---------------------------------------------------------------- reader

Kind KindOf(uint8_t t) {
  if (t <= 0x7f) return Kind::kUint;
  if (t <= 0x8f) return Kind::kMap;
  if (t <= 0x9f) return Kind::kArray;
  if (t <= 0xbf) return Kind::kStr;
  if (t >= 0xe0) return Kind::kInt;
  switch (t) {
    case 0xc0: return Kind::kNil;
    case 0xc1: return Kind::kReserved;
    case 0xc2: case 0xc3: return Kind::kBool;
    case 0xc4: case 0xc5: case 0xc6: return Kind::kBin;
    case 0xc7: case 0xc8: case 0xc9: return Kind::kExt;
    case 0xca: return Kind::kFloat32;
    case 0xcb: return Kind::kFloat64;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return Kind::kUint;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return Kind::kInt;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return Kind::kExt;
    case 0xd9: case 0xda: case 0xdb: return Kind::kStr;
    case 0xdc: case 0xdd: return Kind::kArray;
    default: return Kind::kMap;  // 0xde, 0xdf
  }
}

Read Reader::Next(const Kind* want, Head* h) {
  if (AtEnd()) return Read::kEnd;
  const uint8_t t = b_[pos_++];
  *h = Head{};
  h->tag = t;
  h->kind = KindOf(t);
  if (want && *want != h->kind) return Read::kWrongKind;

  // Fixed forms: everything is in the tag.
  if (t <= 0x7f) {
    h->value = t;
    return Read::kOk;
  }
  if (t <= 0x8f || (t >= 0x90 && t <= 0x9f)) {
    h->value = t & 0x0f;
    return Read::kOk;
  }
  if (t >= 0xa0 && t <= 0xbf) {
    h->value = t & 0x1f;
    return Read::kOk;
  }
  if (t >= 0xe0) {
    h->value = static_cast<uint64_t>(int64_t{static_cast<int8_t>(t)});
    return Read::kOk;
  }
  if (t >= 0xd4 && t <= 0xd8) {  // fixext 1..16
    h->value = uint64_t{1} << (t - 0xd4);
    return Read::kOk;
  }
  if (t <= 0xc3) {  // nil, reserved, bool
    h->value = t == 0xc3;
    return Read::kOk;
  }

  // Forms with length or value bytes: how many, and the smallest value
  // this form is the canonical encoding of.
  size_t w = 0;
  uint64_t min = 0;
  switch (t) {
    case 0xc4: w = 1; break;
    case 0xc5: w = 2; min = 0x100; break;
    case 0xc6: w = 4; min = 0x10000; break;
    case 0xc7: w = 1; break;
    case 0xc8: w = 2; min = 0x100; break;
    case 0xc9: w = 4; min = 0x10000; break;
    case 0xca: w = 4; break;
    case 0xcb: w = 8; break;
    case 0xcc: w = 1; min = 0x80; break;
    case 0xcd: w = 2; min = 0x100; break;
    case 0xce: w = 4; min = 0x10000; break;
    case 0xcf: w = 8; min = 0x100000000ull; break;
    case 0xd0: w = 1; break;
    case 0xd1: w = 2; break;
    case 0xd2: w = 4; break;
    case 0xd3: w = 8; break;
    case 0xd9: w = 1; min = 32; break;
    case 0xda: w = 2; min = 0x100; break;
    case 0xdb: w = 4; min = 0x10000; break;
    case 0xdc: case 0xde: w = 2; min = 16; break;
    default: w = 4; min = 0x10000; break;  // 0xdd, 0xdf
  }
  if (remaining() < w) return Read::kShort;
  const uint64_t v = base::LoadBE(b_.data() + pos_, w);
  pos_ += w;
  h->value = v;
  switch (h->kind) {
    case Kind::kInt: {
      int64_t s;
      if (w == 1) s = static_cast<int8_t>(v);
      else if (w == 2) s = static_cast<int16_t>(v);
      else if (w == 4) s = static_cast<int32_t>(v);
      else s = static_cast<int64_t>(v);
      h->value = static_cast<uint64_t>(s);
      const int64_t below = w == 1 ? -32 : w == 2 ? -128 : w == 4 ? -32768 : -2147483648ll;
      h->canonical = s < below;  // also rejects non-negatives
      break;
    }
    case Kind::kExt:
      h->canonical = v >= min && v != 1 && v != 2 && v != 4 && v != 8 && v != 16;
      break;
    case Kind::kFloat32:
    case Kind::kFloat64:
      break;
    default:
      h->canonical = v >= min;
  }
  return Read::kOk;
}

}  // namespace hearth::codec::mp
