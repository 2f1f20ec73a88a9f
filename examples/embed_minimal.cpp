// embed_minimal: the smallest program embedding Hearth. It opens (or
// creates) a replica, writes one record and reads it back.
//   embed_minimal [DIR]      (default: ./embed-minimal-replica)
#include <cstdio>

#include <hearth/replica.hpp>

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "embed-minimal-replica";
  // A schema is data (docs/schema.md): one collection in one scope.
  auto schema = hearth::Schema::Parse(
      "format = 1\n[collections.note]\nscope = \"demo.notes\"\n[collections.note.fields]\n"
      "text = { type = \"lww\", value = \"string\" }\nseen = { type = \"counter\" }\n");
  if (!schema.ok()) return std::fprintf(stderr, "%s\n", schema.status().ToString().c_str()), 1;
  hearth::ReplicaOptions options;
  options.schema = *schema;
  options.unencrypted_identity = true;  // example only: real nodes set options.passphrase
  auto replica = hearth::Replica::Open(dir, options);
  if (!replica.ok()) return std::fprintf(stderr, "%s\n", replica.status().ToString().c_str()), 1;
  // Without a county root, a scope's key is created once (then copied to
  // other replicas with ExportKeyring/ImportKeyring); never implicitly.
  if (auto k = (*replica)->CreateScopeKey("demo.notes"); !k.ok() && k.status().code() != hearth::Code::kAlreadyExists) {
    return std::fprintf(stderr, "%s\n", k.status().ToString().c_str()), 1;
  }

  // One transaction = one signed, encrypted delta in this node's feed.
  hearth::RecordId id = hearth::RecordId::Generate();
  auto commit = (*replica)->Write([&](hearth::WriteBatch& b) {
    b.Set("note", id, "text", "hello from the township office").Increment("note", id, "seen", 1);
  });
  if (!commit.ok()) return std::fprintf(stderr, "%s\n", commit.status().ToString().c_str()), 1;

  auto record = (*replica)->Get("note", id);
  if (!record.ok()) return std::fprintf(stderr, "%s\n", record.status().ToString().c_str()), 1;
  std::printf("note %s: text=%s seen=%lld (delta seq %llu of author %.16s)\n", id.ToHex().c_str(),
              record->Find("text")->value.ToString().c_str(), static_cast<long long>(record->Find("seen")->count),
              static_cast<unsigned long long>(commit->last_seq), (*replica)->author().ToHex().c_str());
  return 0;
}
