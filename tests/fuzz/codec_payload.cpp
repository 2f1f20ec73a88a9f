// Fuzz target: delta payload and value decoding (src/codec).
//
// Oracle (canonical encoding, docs/crdt.md "Encodings"): whenever
// DecodePayload / DecodeValue accepts the input, encoding the result gives
// back the input bytes exactly (in the payload version of the input, and
// the other payload version decodes to the same ops); a failure is kCorruption or
// kResourceExhausted, never anything else. The same input is tried as a
// payload and as a single value.
#include <cstdint>
#include <span>

#include "codec/codec.hpp"
#include "fuzz_support.hpp"

using namespace hearth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  codec::DecodeLimits lim;
  lim.max_items = 4096;  // keep each run fast; the caps themselves are checked below
  lim.max_string = 1 << 16;

  // Both payload versions (docs/delta-format.md, "Payload version 2"): the
  // first byte picks one, and what decodes re-encodes in that version.
  auto p = codec::DecodePayload(in, lim);
  if (p.ok()) {
    Bytes again = codec::EncodePayloadAs(*p, codec::PayloadVersionOf(in));
    FUZZ_CHECK(again == Bytes(in.begin(), in.end()));
    auto p2 = codec::DecodePayload(again, lim);
    FUZZ_CHECK(p2.ok() && *p2 == *p);
    // The other version carries the same ops.
    const uint8_t other = codec::PayloadVersionOf(in) == codec::kPayloadV2 ? codec::kPayloadV1 : codec::kPayloadV2;
    auto p3 = codec::DecodePayload(codec::EncodePayloadAs(*p, other), codec::DecodeLimits{});
    FUZZ_CHECK(p3.ok() && *p3 == *p);
  } else {
    FUZZ_CHECK_MSG(p.status().code() == Code::kCorruption ||
                       p.status().code() == Code::kResourceExhausted,
                   p.status().ToString());
  }

  auto v = codec::DecodeValue(in, lim);
  if (v.ok()) {
    Bytes again = codec::EncodeValue(*v);
    FUZZ_CHECK(again == Bytes(in.begin(), in.end()));
    auto v2 = codec::DecodeValue(again, lim);
    FUZZ_CHECK(v2.ok() && *v2 == *v);
  } else {
    FUZZ_CHECK_MSG(v.status().code() == Code::kCorruption ||
                       v.status().code() == Code::kResourceExhausted,
                   v.status().ToString());
  }
  return 0;
}
