#include <utility>

#include "hearth/replica.hpp"

namespace hearth {

WriteBatch& WriteBatch::Push(Action a, std::string_view collection, const RecordId& id, std::string_view field,
                             Value v, int64_t by) {
  intents_.push_back(Intent{a, std::string(collection), id, std::string(field), std::move(v), by});
  return *this;
}

WriteBatch& WriteBatch::Set(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  return Push(Action::kSet, c, id, f, std::move(v));
}
WriteBatch& WriteBatch::Add(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  return Push(Action::kAdd, c, id, f, std::move(v));
}
WriteBatch& WriteBatch::Remove(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  return Push(Action::kRemove, c, id, f, std::move(v));
}
WriteBatch& WriteBatch::Increment(std::string_view c, const RecordId& id, std::string_view f, int64_t by) {
  return Push(Action::kIncrement, c, id, f, Value(), by);
}
WriteBatch& WriteBatch::Advance(std::string_view c, const RecordId& id, std::string_view f,
                                std::string_view state) {
  return Push(Action::kAdvance, c, id, f, Value(std::string(state)));
}
WriteBatch& WriteBatch::Append(std::string_view c, const RecordId& id, std::string_view f, Value v) {
  return Push(Action::kAppend, c, id, f, std::move(v));
}
WriteBatch& WriteBatch::Delete(std::string_view c, const RecordId& id) {
  return Push(Action::kDelete, c, id, "$deleted", Value(true));
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
    case ApplyOutcome::kUnreadable: return "unreadable";
    case ApplyOutcome::kWithheld: return "withheld";
    case ApplyOutcome::kBodyArrived: return "body_arrived";
    case ApplyOutcome::kFork: return "fork";
    case ApplyOutcome::kHeld: return "held";
    case ApplyOutcome::kDenied: return "denied";
    case ApplyOutcome::kWaitingSchema: return "waiting_schema";
  }
  return "unknown";
}

}  // namespace hearth
