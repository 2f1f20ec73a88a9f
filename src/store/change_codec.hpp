// The value of an entry of the `changes` table (docs/storage-format.md,
// "Change feed"). Exposed for the format's test vector.
#pragma once

#include <string>

#include "hearth/changes.hpp"
#include "store/lmdb.hpp"

namespace hearth::store {

std::string EncodeChange(const Change& c);
// `number` is the entry's key; kCorruption for a malformed value.
Result<Change> DecodeChange(uint64_t number, ByteView v);

}  // namespace hearth::store
