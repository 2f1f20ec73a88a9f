// Fuzz target: materialised record-state decoding (src/codec).
//
// Oracle (canonical encoding, docs/crdt.md "Encodings"): whenever
// DecodeRecordState accepts the input, EncodeRecordState of the result is
// the input, byte for byte (so a state the merge could not have produced —
// unsorted, duplicated, covered entries — must be refused); failures are
// kCorruption / kResourceExhausted only.
#include <cstdint>
#include <span>

#include "codec/codec.hpp"
#include "fuzz_support.hpp"

using namespace hearth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  codec::DecodeLimits lim;
  lim.max_items = 4096;
  lim.max_string = 1 << 16;
  auto s = codec::DecodeRecordState(in, lim);
  if (!s.ok()) {
    FUZZ_CHECK_MSG(s.status().code() == Code::kCorruption ||
                       s.status().code() == Code::kResourceExhausted,
                   s.status().ToString());
    return 0;
  }
  Bytes again = codec::EncodeRecordState(*s);
  FUZZ_CHECK(again == Bytes(in.begin(), in.end()));
  auto s2 = codec::DecodeRecordState(again, lim);
  FUZZ_CHECK(s2.ok() && *s2 == *s);
  return 0;
}
