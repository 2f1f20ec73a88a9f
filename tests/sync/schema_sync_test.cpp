// The root-published schema ($schema) travels over sync to every member,
// whatever that member's grants, like the policy and the key envelopes.
#include "hearth/inspect.hpp"
#include "sync/sync_support.hpp"

namespace hearth {
namespace {

using testing::Pipe;
using testing::TempDir;

ReplicaOptions Options(std::optional<AuthorId> root, bool is_root) {
  return testing::TestOptions(root, is_root);
}

TEST_CASE("a member with no grant on any scope still receives the root's schema over sync") {
  TempDir tmp;
  auto root = Replica::Open(tmp.Sub("root"), Options(std::nullopt, true));
  REQUIRE(root.ok());
  auto member = Replica::Open(tmp.Sub("member"), Options((*root)->author(), false));
  REQUIRE(member.ok());
  Policy p;
  REQUIRE(p.AddScope({"test.a", 1, ""}).ok());
  REQUIRE(p.AddMember({(*member)->author(), "office", "office", "", {}, std::nullopt}).ok());
  REQUIRE((*root)->PublishPolicy(p).ok());
  std::string text = testing::TestSchema().ToToml();
  text.replace(text.find("version = 1"), 11, "version = 2");
  text += "\n[collections.visit]\nscope = \"test.c\"\n";
  auto v2 = Schema::Parse(text);
  REQUIRE_MESSAGE(v2.ok(), v2.status().ToString());
  REQUIRE((*root)->PublishSchema(*v2).ok());

  Pipe pipe(**root, **member);
  pipe.Run();
  CHECK(pipe.a_status.ok());
  CHECK(pipe.b_status.ok());
  CHECK((*member)->schema().version() == 2);
  CHECK((*member)->schema().Find("visit") != nullptr);
  CHECK((*member)->Digest().value() == (*root)->Digest().value());
  CHECK(inspect::CheckConsistency(**member).ok());
}

}  // namespace
}  // namespace hearth
