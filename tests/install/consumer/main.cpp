// A program outside the Hearth tree: finds the installed library with
// find_package(hearth) or pkg-config, opens a replica and commits one write.
#include <hearth/heads.hpp>
#include <hearth/identity.hpp>
#include <hearth/inspect.hpp>
#include <hearth/replica.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto schema = hearth::Schema::Parse(
      "format = 1\n[collections.x]\nscope = \"s\"\n[collections.x.fields]\nn = { type = \"counter\" }\n");
  if (!schema.ok()) return std::puts(schema.status().ToString().c_str()), 1;
  hearth::ReplicaOptions o;
  o.schema = *schema;
  o.unencrypted_identity = true;
  auto r = hearth::Replica::Open(argv[1], o);
  if (!r.ok()) return std::puts(r.status().ToString().c_str()), 1;
  auto k = (*r)->CreateScopeKey("s");  // no implicit key without a root
  if (!k.ok()) return std::puts(k.status().ToString().c_str()), 1;
  auto c = (*r)->Write([](hearth::WriteBatch& b) { b.Increment("x", hearth::RecordId::Generate(), "n", 1); });
  if (!c.ok()) return std::puts(c.status().ToString().c_str()), 1;
  auto id = hearth::ReadIdentityFile(std::string(argv[1]) + "/identity.key");
  if (!id.ok() || *id != (*r)->author()) return std::puts("ReadIdentityFile does not give the replica's author"), 1;
  auto st = hearth::inspect::Stats(**r);
  if (!st.ok() || st->deltas != 1) return std::puts("inspect::Stats does not count the one delta"), 1;
  // Heads files: the library's JSON (nlohmann-json stays inside the library).
  auto heads = (*r)->GetHeads();
  if (!heads.ok()) return std::puts(heads.status().ToString().c_str()), 1;
  auto back = hearth::HeadsFromJson(hearth::HeadsToJson(*heads));
  if (!back.ok() || *back != *heads) return std::puts("HeadsFromJson(HeadsToJson(h)) != h"), 1;
  std::printf("installed hearth works: seq %llu\n", static_cast<unsigned long long>(c->last_seq));
  return 0;
}
