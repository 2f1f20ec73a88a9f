#include "store/record_view.hpp"

namespace hearth::store {

Record ToRecord(const crdt::RecordState& state) {
  Record r;
  r.collection = state.collection;
  r.id = state.id;
  r.deleted = state.deleted();
  for (const auto& [name, fs] : state.fields) {
    if (name == crdt::kDeletedField) continue;
    FieldValue fv;
    fv.kind = fs.kind();
    switch (fs.kind()) {
      case FieldKind::kLww: {
        const auto& s = fs.as<crdt::LwwState>();
        fv.value = s.value;
        fv.hlc = s.dot.hlc;
        fv.author = s.dot.author;
        break;
      }
      case FieldKind::kMv: {
        const auto& s = fs.as<crdt::MvState>();
        for (const auto& e : s.entries) {
          fv.values.push_back(e.value);
          fv.sources.push_back(LogEntry{e.dot.hlc, e.dot.author, e.value});
        }
        std::sort(fv.values.begin(), fv.values.end());
        fv.values.erase(std::unique(fv.values.begin(), fv.values.end()), fv.values.end());
        if (fv.values.size() == 1) fv.value = fv.values.front();
        break;
      }
      case FieldKind::kSet: fv.values = fs.as<crdt::SetState>().Members(); break;
      case FieldKind::kCounter: fv.count = fs.as<crdt::CounterState>().Value(); break;
      case FieldKind::kStatus: {
        const auto& s = fs.as<crdt::StatusState>();
        if (s.set) fv.value = Value(s.name);
        break;
      }
      case FieldKind::kLog:
        for (const auto& it : fs.as<crdt::LogState>().items) {
          fv.log.push_back(LogEntry{it.dot.hlc, it.dot.author, it.value});
        }
        break;
    }
    r.fields.emplace(name, std::move(fv));
  }
  return r;
}

std::optional<Value> IndexedValue(const crdt::RecordState& state, std::string_view field) {
  const crdt::FieldState* fs = state.Find(field);
  if (fs == nullptr) return std::nullopt;
  if (fs->kind() == FieldKind::kLww) {
    const auto& s = fs->as<crdt::LwwState>();
    if (s.dot.hlc == 0) return std::nullopt;
    return s.value;
  }
  if (fs->kind() == FieldKind::kStatus) {
    const auto& s = fs->as<crdt::StatusState>();
    if (!s.set) return std::nullopt;
    return Value(static_cast<int64_t>(s.rank));
  }
  return std::nullopt;
}

}  // namespace hearth::store
