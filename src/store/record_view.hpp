// Conversion of a materialised crdt::RecordState into the public Record.
#pragma once

#include "crdt/record_state.hpp"
#include "hearth/replica.hpp"

namespace hearth::store {

Record ToRecord(const crdt::RecordState& state);

// The value a secondary index holds for `field` of `state`: lww value, or the
// status rank as an int. nullopt when the field is unset or not indexable.
std::optional<Value> IndexedValue(const crdt::RecordState& state, std::string_view field);

}  // namespace hearth::store
