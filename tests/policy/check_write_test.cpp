// Policy::CheckWrite and the read rights, tested directly on Policy values
// (docs/policy.md, "Write enforcement"): member, revocation point, declared
// scope, write grant (by agency or role, for the scope or "*"), key epoch,
// checked in that order; the first rule that fails names the denial.
// The reserved scopes ($policy, $keys) are the root's alone: the store
// checks that before any policy (Replica::Impl::Permit, tests/trust); a
// policy can neither declare them nor grant a write on them.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "hearth/policy.hpp"
#include "support/support.hpp"

namespace hearth {
namespace {

AuthorId Key(uint8_t n) {
  AuthorId k;
  k.bytes.fill(0);
  k.bytes[0] = n;
  k.bytes[31] = static_cast<uint8_t>(0xa0 + n);
  return k;
}

bool Denied(const Status& s, const std::string& reason_part) {
  return s.code() == Code::kPermissionDenied && s.message().find(reason_part) != std::string::npos;
}

// A county: hr writes hr.wages; civil and role "child_care" write
// civil.kids; township relays both; auditor (role) reads everything.
struct County {
  Policy p;
  AuthorId hr = Key(1), civil = Key(2), carer = Key(3), town = Key(4), auditor = Key(5), outsider = Key(9);
  County() {
    p.set_county("test");
    REQUIRE(p.AddScope({"hr.wages", 1, ""}).ok());
    REQUIRE(p.AddScope({"civil.kids", 2, ""}).ok());
    REQUIRE(p.AddMember({hr, "hr desk", "hr", "", {}, std::nullopt}).ok());
    REQUIRE(p.AddMember({civil, "civil desk", "civil", "", {}, std::nullopt}).ok());
    REQUIRE(p.AddMember({carer, "carer", "township", "t1", {"child_care"}, std::nullopt}).ok());
    REQUIRE(p.AddMember({town, "town relay", "township", "t2", {}, std::nullopt}).ok());
    REQUIRE(p.AddMember({auditor, "auditor", "county", "", {"audit"}, std::nullopt}).ok());
    REQUIRE(p.AddGrant({"hr", "", "hr.wages", Right::kRead | Right::kWrite}).ok());
    REQUIRE(p.AddGrant({"civil", "", "civil.kids", Right::kRead | Right::kWrite}).ok());
    REQUIRE(p.AddGrant({"", "child_care", "civil.kids", Right::kRead | Right::kWrite}).ok());
    REQUIRE(p.AddGrant({"township", "", "*", Right::kRelay}).ok());
    REQUIRE(p.AddGrant({"", "audit", "*", Right::kRead}).ok());
  }
};

TEST_CASE("policy: a write grant by agency or role admits the member's deltas in that scope only") {
  County c;
  CHECK(c.p.CheckWrite(c.hr, 1, "hr.wages", 1).ok());
  CHECK(c.p.CheckWrite(c.civil, 7, "civil.kids", 2).ok());
  CHECK(c.p.CheckWrite(c.carer, 3, "civil.kids", 1).ok());  // by role; any epoch up to the current one
  // The same members elsewhere.
  CHECK(Denied(c.p.CheckWrite(c.hr, 1, "civil.kids", 1), "no write grant for scope civil.kids"));
  CHECK(Denied(c.p.CheckWrite(c.civil, 1, "hr.wages", 1), "no write grant for scope hr.wages"));
  CHECK(Denied(c.p.CheckWrite(c.carer, 1, "hr.wages", 1), "no write grant"));
  // Relay and read rights are not write rights, even on "*".
  CHECK(Denied(c.p.CheckWrite(c.town, 1, "hr.wages", 1), "no write grant"));
  CHECK(Denied(c.p.CheckWrite(c.auditor, 1, "civil.kids", 1), "no write grant"));
  CHECK(c.p.RightsOf(c.town, "hr.wages") == Right::kRelay);
  CHECK(c.p.RightsOf(c.auditor, "hr.wages") == Right::kRead);
  // Rights are the union of every grant that applies: by role (read,
  // write) and by agency (township: relay on "*").
  CHECK(c.p.RightsOf(c.carer, "civil.kids") == (Right::kRead | Right::kWrite | Right::kRelay));
  CHECK(c.p.RightsOf(c.carer, "hr.wages") == Right::kRelay);
}

TEST_CASE("policy: an unknown member is denied whatever it writes") {
  County c;
  for (const char* scope : {"hr.wages", "civil.kids", "nope", "$policy"}) {
    CAPTURE(scope);
    const Status s = c.p.CheckWrite(c.outsider, 1, scope, 1);
    CHECK(Denied(s, "unknown member " + c.outsider.ToHex().substr(0, 16)));
    CHECK(Denied(s, "(not in policy v1)"));
  }
  CHECK(c.p.RightsOf(c.outsider, "hr.wages").empty());
  CHECK_FALSE(c.p.MayRead(c.outsider, "hr.wages"));
  CHECK_FALSE(c.p.MayReceive(c.outsider, "hr.wages"));
}

TEST_CASE("policy: unknown scope, and the key epoch must be 1..current") {
  County c;
  CHECK(Denied(c.p.CheckWrite(c.hr, 1, "hr.bonus", 1), "unknown scope hr.bonus"));
  CHECK(Denied(c.p.CheckWrite(c.hr, 1, "hr.wages", 0), "unknown key epoch 0 for scope hr.wages (current 1)"));
  CHECK(Denied(c.p.CheckWrite(c.hr, 1, "hr.wages", 2), "unknown key epoch 2 for scope hr.wages (current 1)"));
  CHECK(c.p.CheckWrite(c.civil, 1, "civil.kids", 1).ok());
  CHECK(c.p.CheckWrite(c.civil, 1, "civil.kids", 2).ok());
  CHECK(Denied(c.p.CheckWrite(c.civil, 1, "civil.kids", 3), "unknown key epoch 3"));
}

TEST_CASE("policy: the reserved scopes cannot be declared, granted a write or written by a member") {
  County c;
  for (const char* reserved : {kPolicyScope, kKeysScope}) {
    CAPTURE(reserved);
    CHECK(c.p.AddScope({reserved, 1, ""}).code() == Code::kInvalidArgument);
    CHECK(c.p.FindScope(reserved) == nullptr);
    // Even a "*" grant does not reach them: they are not declared scopes.
    Policy all = c.p;
    REQUIRE(all.AddGrant({"hr", "", "*", Right::kRead | Right::kWrite}).ok());
    for (uint32_t e : {0u, 1u}) CHECK(Denied(all.CheckWrite(c.hr, 1, reserved, e), std::string("unknown scope ") + reserved));
  }
}

TEST_CASE("policy: revoked after seq N: seq <= N still permitted, later ones denied, no rights left") {
  County c;
  Policy p2 = c.p;
  p2.set_version(2);
  REQUIRE(p2.Revoke(c.civil, 5).ok());
  REQUIRE(p2.FindMember(c.civil)->revoked_after == std::optional<uint64_t>(5));
  // Its past (seq 1..5) stays permitted, under the epochs it held.
  for (uint64_t seq = 1; seq <= 5; ++seq) CHECK(p2.CheckWrite(c.civil, seq, "civil.kids", 2).ok());
  for (uint64_t seq : {6u, 7u, 1000u}) {
    CAPTURE(seq);
    CHECK(Denied(p2.CheckWrite(c.civil, seq, "civil.kids", 2),
                 "member civil desk revoked after seq 5 (delta seq " + std::to_string(seq) + ")"));
  }
  // The revocation is checked before the scope, grant and epoch.
  CHECK(Denied(p2.CheckWrite(c.civil, 6, "hr.wages", 9), "revoked after seq 5"));
  // Its lanes (versions 5/6: seqs count per (author, scope) from 1) are
  // all revoked: seq 1 of a lane is not "seq 1 of its feed".
  for (uint64_t seq : {1u, 5u, 6u}) {
    CAPTURE(seq);
    CHECK(Denied(p2.CheckWrite(c.civil, seq, "civil.kids", 2, /*lane=*/true), "no lane (delta version 5/6)"));
  }
  // A member that is not revoked writes in its lanes as in its feed.
  CHECK(p2.CheckWrite(c.carer, 1, "civil.kids", 3, /*lane=*/true).ok());
  CHECK(Denied(p2.CheckWrite(c.carer, 1, "hr.wages", 1, /*lane=*/true), "no write grant"));
  // A revoked member reads and receives nothing more.
  CHECK_FALSE(p2.MayRead(c.civil, "civil.kids"));
  CHECK_FALSE(p2.MayReceive(c.civil, "civil.kids"));
  CHECK(p2.Readers("civil.kids") == std::vector<AuthorId>{c.carer, c.auditor});
  // New epoch for every scope it could read (civil.kids: 2 -> 3), none for
  // the others; the remaining writers may use the new epoch.
  CHECK(p2.FindScope("civil.kids")->epoch == 3);
  CHECK(p2.FindScope("hr.wages")->epoch == 1);
  CHECK(p2.CheckWrite(c.carer, 1, "civil.kids", 3).ok());
  CHECK(Denied(c.p.CheckWrite(c.carer, 1, "civil.kids", 3), "unknown key epoch 3"));
  // Revoked after 0: nothing of it is permitted.
  Policy p3 = c.p;
  REQUIRE(p3.Revoke(c.hr, 0).ok());
  CHECK(Denied(p3.CheckWrite(c.hr, 1, "hr.wages", 1), "revoked after seq 0"));
  CHECK(p3.Revoke(c.outsider, 1).code() == Code::kInvalidArgument);
  // The TOML form keeps the revocation point.
  auto back = Policy::Parse(p2.ToToml());
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  CHECK(*back == p2);
  CHECK(back->CheckWrite(c.civil, 5, "civil.kids", 2).ok());
  CHECK_FALSE(back->CheckWrite(c.civil, 6, "civil.kids", 2).ok());
}

// Property: on random policies and random deltas, CheckWrite agrees with the
// rules of docs/policy.md applied in order, and names the first that fails.
TEST_CASE("policy: property: CheckWrite follows the documented rules in order") {
  const uint64_t base = testing::BaseSeed();
  const int cases = testing::Cases(2000);
  const std::vector<std::string> scopes = {"a.one", "a.two", "b.one"};
  const std::vector<std::string> agencies = {"hr", "civil", "township"};
  const std::vector<std::string> roles = {"r1", "r2"};
  for (int i = 0; i < cases; ++i) {
    const uint64_t seed = base ^ (0x5eed0000ULL + static_cast<uint64_t>(i));
    CAPTURE(base);
    CAPTURE(i);
    std::mt19937_64 rng(seed);
    auto pick = [&](const auto& v) -> const auto& { return v[rng() % v.size()]; };
    Policy p;
    p.set_version(1 + rng() % 5);
    std::vector<uint32_t> epochs;
    for (const std::string& s : scopes) {
      epochs.push_back(1 + static_cast<uint32_t>(rng() % 3));
      if (rng() % 4 != 0) REQUIRE(p.AddScope({s, epochs.back(), ""}).ok());
    }
    const int n_members = 1 + static_cast<int>(rng() % 5);
    for (int m = 0; m < n_members; ++m) {
      Member mem{Key(static_cast<uint8_t>(m + 1)), "m" + std::to_string(m), pick(agencies), "", {}, std::nullopt};
      if (rng() % 2) mem.roles.push_back(pick(roles));
      if (rng() % 3 == 0) mem.revoked_after = rng() % 6;
      REQUIRE(p.AddMember(mem).ok());
    }
    const int n_grants = static_cast<int>(rng() % 5);
    for (int g = 0; g < n_grants; ++g) {
      Grant gr;
      if (rng() % 2) gr.agency = pick(agencies); else gr.role = pick(roles);
      gr.scope = rng() % 4 == 0 ? std::string("*") : pick(scopes);
      gr.rights = Rights::FromBits(static_cast<uint8_t>(1 + rng() % 7));
      REQUIRE(p.AddGrant(gr).ok());
    }
    for (int q = 0; q < 20; ++q) {
      const AuthorId author = Key(static_cast<uint8_t>(1 + rng() % 6));  // 6: may be unknown
      const uint64_t seq = 1 + rng() % 8;
      const std::string& scope = rng() % 8 == 0 ? std::string("zz.undeclared") : pick(scopes);
      const uint32_t epoch = static_cast<uint32_t>(rng() % 5);
      // The model: docs/policy.md, rules 1-5.
      std::string want;
      const Member* m = p.FindMember(author);
      const ScopeSpec* s = p.FindScope(scope);
      bool write = false;
      if (m != nullptr) {
        for (const Grant& g : p.grants()) {
          const bool applies = !g.agency.empty() ? g.agency == m->agency
                                                 : std::find(m->roles.begin(), m->roles.end(), g.role) != m->roles.end();
          if (applies && (g.scope == "*" || g.scope == scope) && (g.rights & Right::kWrite)) write = true;
        }
      }
      if (m == nullptr) want = "unknown member";
      else if (m->revoked_after && seq > *m->revoked_after) want = "revoked after seq " + std::to_string(*m->revoked_after);
      else if (s == nullptr) want = "unknown scope " + scope;
      else if (!write) want = "no write grant for scope " + scope;
      else if (epoch < 1 || epoch > s->epoch) want = "unknown key epoch " + std::to_string(epoch);
      const Status got = p.CheckWrite(author, seq, scope, epoch);
      CAPTURE(scope);
      CAPTURE(seq);
      CAPTURE(epoch);
      CAPTURE(got.ToString());
      if (want.empty()) {
        CHECK(got.ok());
      } else {
        CHECK(Denied(got, want));
      }
      // Read rights follow the same grants; revoked members have none.
      const bool may_read = m != nullptr && !m->revoked_after && (p.RightsOf(author, scope) & Right::kRead);
      CHECK(p.MayRead(author, scope) == may_read);
    }
  }
}

}  // namespace
}  // namespace hearth
