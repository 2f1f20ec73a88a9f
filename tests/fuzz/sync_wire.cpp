// Fuzz target: sync message framing (src/sync/wire.cpp).
//
// The input is one message: a type byte and a msgpack array. It is decoded
// with sync::Reader along the layout docs/protocol.md gives for its type
// (HELLO, PROOF, SUMMARY, RANGES, RECON, HEADS, DELTAS, CREDIT, HEARTBEAT, ERROR,
// BYE, and the unknown types, decoded as a generic token stream), with the caps the
// session uses. Oracles: the Reader never reads outside the input (ASan) nor
// accepts a length beyond the bytes left; a message that decodes is written
// again with sync::Writer, which gives the same tokens when decoded, is never
// longer than the input, and equals the input when the input used the
// smallest encodings (same length).
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "sync/wire.hpp"

using namespace hearth;
using namespace hearth::sync;

namespace {

struct Arr {
  uint32_t n;
  bool operator==(const Arr&) const = default;
};
struct Nil {
  bool operator==(const Nil&) const = default;
};
using Token = std::variant<Arr, uint64_t, Bytes, std::string, Nil, bool>;

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> body) : r_(body) {}
  std::vector<Token> tokens;

  bool Array(uint32_t max, uint32_t exact = UINT32_MAX, uint32_t* out = nullptr) {
    auto n = r_.Array(max);
    if (!n.ok()) return false;
    if (exact != UINT32_MAX && *n != exact) return false;
    tokens.push_back(Arr{*n});
    if (out) *out = *n;
    return true;
  }
  bool Uint() {
    auto v = r_.Uint();
    if (!v.ok()) return false;
    tokens.push_back(*v);
    return true;
  }
  bool Bin(uint64_t max) {
    auto b = r_.Bin(max);
    if (!b.ok()) return false;
    FUZZ_CHECK(b->size() <= max);
    tokens.push_back(Bytes(b->begin(), b->end()));
    return true;
  }
  template <size_t N>
  bool Fixed() {
    auto b = r_.Fixed<N>();
    if (!b.ok()) return false;
    tokens.push_back(Bytes(b->begin(), b->end()));
    return true;
  }
  template <size_t N>
  bool FixedOrNil() {
    if (r_.NextIsNil()) {
      r_.SkipNil();
      tokens.push_back(Nil{});
      return true;
    }
    return Fixed<N>();
  }
  bool Str(uint64_t max) {
    auto s = r_.Str(max);
    if (!s.ok()) return false;
    FUZZ_CHECK(s->size() <= max);
    tokens.push_back(*s);
    return true;
  }
  bool Bool() {
    auto b = r_.Bool();
    if (!b.ok()) return false;
    tokens.push_back(*b);
    return true;
  }
  bool Finish() { return r_.Finish().ok(); }

  bool Message(uint8_t type) {
    uint32_t n = 0;
    switch (type) {
      case kHello:
        return Array(16, 8) && Uint() && Fixed<32>() && FixedOrNil<32>() && Uint() && Fixed<32>() &&
               Uint() && Uint() && FixedOrNil<64>() && Finish();
      case kProof: return Array(4, 1) && Fixed<64>() && Finish();
      case kSummary: return Array(8, 2) && Fixed<32>() && Uint() && Finish();
      case kHeads:
        if (!(Array(8, 3) && Uint() && Bool() && Array(uint32_t{1} << 22, UINT32_MAX, &n))) return false;
        for (uint32_t i = 0; i < n; ++i) {
          if (!(Array(2, 2) && Fixed<32>() && Uint())) return false;
        }
        return Finish();
      case kDeltas:
        if (!(Array(8, 2) && Uint() && Array(UINT32_MAX, UINT32_MAX, &n))) return false;
        for (uint32_t i = 0; i < n; ++i) {
          if (!Bin(uint64_t{4} << 20)) return false;
        }
        return Finish();
      case kRanges:
        if (!Array(16, 16)) return false;
        for (int i = 0; i < 16; ++i) {
          if (!(Array(2, 2) && Fixed<32>() && Uint())) return false;
        }
        return Finish();
      case kRecon: return Array(8, 3) && Uint() && Uint() && Bin(uint64_t{4} << 20) && Finish();
      case kCredit: return Array(4, 1) && Uint() && Finish();
      case kHeartbeat: return Array(8, 3) && Uint() && Uint() && Bool() && Finish();
      case kError: return Array(4, 2) && Uint() && Str(512) && Finish();
      case kBye: return Array(4, 0) && Finish();
      default: return Generic(0) && Finish();
    }
  }

  // Any value of the subset, arrays nested at most 8 deep.
  bool Generic(int depth) {
    if (depth > 8) return false;
    if (r_.NextIsNil()) {
      r_.SkipNil();
      tokens.push_back(Nil{});
      return true;
    }
    Reader probe = r_;
    if (auto n = probe.Array(1024); n.ok()) {
      r_ = probe;
      tokens.push_back(Arr{*n});
      for (uint32_t i = 0; i < *n; ++i) {
        if (!Generic(depth + 1)) return false;
      }
      return true;
    }
    probe = r_;
    if (auto v = probe.Uint(); v.ok()) {
      r_ = probe;
      tokens.push_back(*v);
      return true;
    }
    probe = r_;
    if (auto b = probe.Bin(1 << 20); b.ok()) {
      r_ = probe;
      tokens.push_back(Bytes(b->begin(), b->end()));
      return true;
    }
    probe = r_;
    if (auto s = probe.Str(1 << 20); s.ok()) {
      r_ = probe;
      tokens.push_back(*s);
      return true;
    }
    probe = r_;
    if (auto b = probe.Bool(); b.ok()) {
      r_ = probe;
      tokens.push_back(*b);
      return true;
    }
    return false;
  }

 private:
  Reader r_;
};

Bytes Encode(uint8_t type, const std::vector<Token>& tokens) {
  Writer w(type);
  for (const Token& t : tokens) {
    if (auto* a = std::get_if<Arr>(&t)) w.Array(a->n);
    else if (auto* u = std::get_if<uint64_t>(&t)) w.Uint(*u);
    else if (auto* b = std::get_if<Bytes>(&t)) w.Bin(*b);
    else if (auto* s = std::get_if<std::string>(&t)) w.Str(*s);
    else if (std::holds_alternative<Nil>(t)) w.Nil();
    else w.Bool(std::get<bool>(t));
  }
  return w.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t type = data[0];
  std::span<const uint8_t> body(data + 1, size - 1);
  Decoder d(body);
  if (!d.Message(type)) return 0;
  const Bytes again = Encode(type, d.tokens);
  FUZZ_CHECK(again.size() <= size);
  if (again.size() == size) FUZZ_CHECK(std::equal(again.begin(), again.end(), data));
  Decoder d2(std::span<const uint8_t>(again).subspan(1));
  FUZZ_CHECK(d2.Message(type));
  FUZZ_CHECK(d2.tokens == d.tokens);
  return 0;
}
