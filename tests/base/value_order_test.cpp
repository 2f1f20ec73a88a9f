// Value order of doubles as docs/crdt.md states it ("Field kinds and their
// merge"): IEEE 754 totalOrder, numeric for ordinary values, -0.0 < 0.0,
// NaNs beyond the infinities by sign, distinct payloads distinct.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "hearth/value.hpp"

namespace hearth {
namespace {

TEST_CASE("value order: doubles follow the documented total order") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double neg_nan = -nan;  // sign bit set
  const double nan2 = std::bit_cast<double>(std::bit_cast<uint64_t>(nan) | 1);  // other payload
  // docs/crdt.md's example, with the infinities and NaNs around it.
  const std::vector<double> ascending = {neg_nan, -inf, -3.25, -1.5, -0.0, 0.0, 2.5, inf, nan, nan2};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    CAPTURE(i);
    CHECK(Value(ascending[i]) < Value(ascending[i + 1]));
    CHECK(Value(ascending[i + 1]) > Value(ascending[i]));
  }
  CHECK(Value(-0.0) != Value(0.0));
  CHECK(Value(nan) == Value(nan));  // same bits
  CHECK(Value(nan) != Value(nan2));
  // Not the C++ order of doubles.
  CHECK(-0.0 == 0.0);
  CHECK_FALSE(nan == nan);
}

}  // namespace
}  // namespace hearth
