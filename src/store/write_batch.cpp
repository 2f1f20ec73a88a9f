#include <utility>

#include "hearth/replica.hpp"

namespace hearth {

namespace {
WriteBatch::Intent MakeIntent(WriteBatch::Action a, std::string_view collection, const RecordId& id,
                              std::string_view field, Value v, int64_t by = 0) {
  return WriteBatch::Intent{a, std::string(collection), id, std::string(field), std::move(v), by};
}
}  // namespace

WriteBatch& WriteBatch::Set(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  intents_.push_back(MakeIntent(Action::kSet, c, id, f, std::move(v)));
  return *this;
}
WriteBatch& WriteBatch::Add(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  intents_.push_back(MakeIntent(Action::kAdd, c, id, f, std::move(v)));
  return *this;
}
WriteBatch& WriteBatch::Remove(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  intents_.push_back(MakeIntent(Action::kRemove, c, id, f, std::move(v)));
  return *this;
}
WriteBatch& WriteBatch::Increment(std::string_view c, const RecordId& id, std::string_view f, int64_t by) {
  intents_.push_back(MakeIntent(Action::kIncrement, c, id, f, Value(), by));
  return *this;
}
WriteBatch& WriteBatch::Advance(std::string_view c, const RecordId& id, std::string_view f,
                                std::string_view state) {
  intents_.push_back(MakeIntent(Action::kAdvance, c, id, f, Value(std::string(state))));
  return *this;
}
WriteBatch& WriteBatch::Append(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  intents_.push_back(MakeIntent(Action::kAppend, c, id, f, std::move(v)));
  return *this;
}
WriteBatch& WriteBatch::Delete(std::string_view c, const RecordId& id) {
  intents_.push_back(MakeIntent(Action::kDelete, c, id, "$deleted", Value(true)));
  return *this;
}

const FieldValue* Record::Find(std::string_view field) const {
  auto it = fields.find(field);
  return it == fields.end() ? nullptr : &it->second;
}

std::string_view ApplyOutcomeName(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::kApplied: return "applied";
    case ApplyOutcome::kDuplicate: return "duplicate";
    case ApplyOutcome::kPending: return "pending";
    case ApplyOutcome::kStored: return "stored";
    case ApplyOutcome::kFork: return "fork";
    case ApplyOutcome::kHeld: return "held";
    case ApplyOutcome::kDenied: return "denied";
  }
  return "unknown";
}

}  // namespace hearth
