// policy show/template/sign/add-member/add-scope/grant/revoke, denied.
//
// The access policy (include/hearth/policy.hpp) as the county administrator
// sees it: every edit takes the policy in force (or an empty one), changes
// it, bumps the version by one and publishes it from the root's replica
// (Replica::PublishPolicy), or prints the resulting TOML with --dry-run.
#include <map>
#include <set>
#include <sstream>

#include "common.hpp"
#include "hearth/inspect.hpp"
#include "policy_template.hpp"  // generated from policies/county.toml (tools/CMakeLists.txt)

namespace hcli {

using namespace hearth;

namespace {

std::string Short(const AuthorId& a) { return a.ToHex().substr(0, 16); }

bool IsRoot(const Replica& r) {
  auto root = r.root();
  return root && *root == r.author();
}

// Exit 3 unless `r` is the county root's replica.
void RequireRoot(const Replica& r) {
  auto root = r.root();
  if (!root) {
    Fail(kExitRuntime, "only the county root's replica can sign policy (this replica obeys no county root)\n"
                       "  the administrator's replica is created with `hearth init DIR --is-root`");
  }
  if (*root != r.author()) {
    Fail(kExitRuntime, "only the county root's replica can sign policy (this replica obeys root " +
                           root->ToHex() + ")");
  }
}

std::vector<std::string> RightsList(Rights rights) {
  std::vector<std::string> out;
  if (rights & Right::kRead) out.push_back("read");
  if (rights & Right::kWrite) out.push_back("write");
  if (rights & Right::kRelay) out.push_back("relay");
  return out;
}

// "read,write,relay" (any order, any subset) or "none" -> flags; exit 2.
Rights ParseRights(const std::string& text) {
  if (text == "none") return {};
  Rights rights;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part == "read") rights |= Right::kRead;
    else if (part == "write") rights |= Right::kWrite;
    else if (part == "relay") rights |= Right::kRelay;
    else Fail(kExitUsage, "unknown right '" + part + "' in --rights " + text + " (read, write, relay, or none)");
  }
  if (rights.empty()) Fail(kExitUsage, "--rights needs at least one of read, write, relay (or none)");
  return rights;
}

// "agency:township", "role:child_care"; a grant limited to partitions
// (docs/policy.md, "Partitioned scopes") is its own column:
// "agency:township[own]", "agency:liaison[城厢镇,始阳镇]".
std::string Subject(const Grant& gr) {
  std::string s = gr.agency.empty() ? "role:" + gr.role : "agency:" + gr.agency;
  if (gr.own_partition) return s + "[own]";
  if (!gr.partitions.empty()) {
    s += "[";
    for (size_t i = 0; i < gr.partitions.size(); ++i) s += (i ? "," : "") + gr.partitions[i];
    s += "]";
  }
  return s;
}

// scope -> subject ("agency:hr", "role:child_care") -> union of rights.
std::map<std::string, std::map<std::string, Rights>> Matrix(const Policy& p) {
  std::map<std::string, std::map<std::string, Rights>> m;
  for (const auto& s : p.scopes()) m[s.name];
  for (const auto& gr : p.grants()) m[gr.scope][Subject(gr)] |= gr.rights;
  return m;
}

json PolicyJson(const Policy& p) {
  json scopes = json::array(), members = json::array(), grants = json::array(), matrix = json::object();
  for (const auto& s : p.scopes()) {
    json sj = {{"name", s.name}, {"epoch", s.epoch}, {"description", s.description}};
    if (s.partitioned()) {
      sj["partitioned_by"] = s.partitioned_by;
      sj["partitions"] = s.partitions;
    }
    scopes.push_back(sj);
  }
  for (const auto& m : p.members()) {
    members.push_back({{"key", m.key.ToHex()},
                       {"name", m.name},
                       {"agency", m.agency},
                       {"township", m.township},
                       {"roles", m.roles},
                       {"revoked_after", m.revoked_after ? json(*m.revoked_after) : json(nullptr)}});
  }
  for (const auto& gr : p.grants()) {
    json j = {{"scope", gr.scope}, {"rights", RightsList(gr.rights)}};
    if (!gr.agency.empty()) j["agency"] = gr.agency;
    else j["role"] = gr.role;
    if (gr.own_partition) j["partition"] = "own";
    if (!gr.partitions.empty()) j["partitions"] = gr.partitions;
    grants.push_back(j);
  }
  for (const auto& [scope, row] : Matrix(p)) {
    json r = json::object();
    for (const auto& [subject, rights] : row) r[subject] = RightsToString(rights);
    matrix[scope] = r;
  }
  return {{"version", p.version()}, {"county", p.county()}, {"scopes", scopes}, {"members", members},
          {"grants", grants},       {"matrix", matrix},     {"toml", p.ToToml()}};
}

int Show(Globals& g) {
  auto r = OpenGlobal(g);
  auto root = r->root();
  auto p = Must(r->CurrentPolicy(), "reading the policy");
  if (g.json) {
    json j = p ? PolicyJson(*p) : json{{"version", 0}};
    j["root"] = root ? json(root->ToHex()) : json(nullptr);
    PrintJson(j);
    return kExitOk;
  }
  if (!root) {
    std::cout << "this replica obeys no county root: no policy is enforced\n";
    return kExitOk;
  }
  if (!p) {
    std::cout << "no policy received yet from root " << root->ToHex() << "\n";
    if (IsRoot(*r)) std::cout << "sign one with `hearth policy sign FILE` (start from `hearth policy template`)\n";
    else std::cout << "import the root's deltas (export/import or merge) to receive it\n";
    return kExitOk;
  }
  std::cout << "policy   version " << p->version() << (p->county().empty() ? "" : ", county " + p->county()) << "\n"
            << "root     " << root->ToHex() << (IsRoot(*r) ? " (this replica)" : "") << "\n\n";
  Table ts({"SCOPE", "EPOCH", "DESCRIPTION"});
  for (const auto& s : p->scopes()) ts.Add({s.name, std::to_string(s.epoch), s.description});
  ts.Print();
  for (const auto& s : p->scopes()) {
    if (!s.partitioned()) continue;
    std::string list;
    for (const auto& part : s.partitions) list += (list.empty() ? "" : ", ") + part;
    std::cout << "scope " << s.name << " is partitioned"
              << (s.partitioned_by.empty() ? "" : " by " + s.partitioned_by) << " (" << s.partitions.size()
              << "): " << list << "\n";
  }
  std::cout << "\n";
  if (p->members().empty()) {
    std::cout << "no members (add them with `hearth policy add-member`)\n";
  } else {
    Table tm({"MEMBER", "NAME", "AGENCY", "TOWNSHIP", "ROLES", "REVOKED_AFTER"});
    for (const auto& m : p->members()) {
      std::string roles;
      for (const auto& ro : m.roles) roles += (roles.empty() ? "" : ",") + ro;
      tm.Add({Short(m.key) + (m.key == r->author() ? " (self)" : ""), m.name.empty() ? "-" : m.name, m.agency,
              m.township.empty() ? "-" : m.township, roles.empty() ? "-" : roles,
              m.revoked_after ? "seq " + std::to_string(*m.revoked_after) : "-"});
    }
    tm.Print();
  }
  std::cout << "\n";
  auto matrix = Matrix(*p);
  std::set<std::string> subjects;
  for (const auto& [scope, row] : matrix)
    for (const auto& [subject, rights] : row) subjects.insert(subject);
  if (subjects.empty()) {
    std::cout << "no grants (add them with `hearth policy grant`)\n";
    return kExitOk;
  }
  std::vector<std::string> cols(subjects.begin(), subjects.end());  // "agency:..." sort before "role:..."
  std::vector<std::string> headers{"SCOPE"};
  for (const auto& c : cols) headers.push_back(c);
  Table tg(headers);
  for (const auto& [scope, row] : matrix) {
    std::vector<std::string> line{scope};
    for (const auto& c : cols) {
      auto it = row.find(c);
      line.push_back(it == row.end() || it->second.empty() ? "-" : RightsToString(it->second));
    }
    tg.Add(line);
  }
  tg.Print();
  return kExitOk;
}

int Template(Globals& g, const std::string& county) {
  (void)g;
  std::string text = kPolicyTemplate;
  if (!county.empty()) {
    if (county.find('"') != std::string::npos || county.find('\\') != std::string::npos ||
        county.find('\n') != std::string::npos) {
      Fail(kExitUsage, "--county: the name may not contain quotes, backslashes or newlines");
    }
    const std::string key = "\ncounty = \"";
    auto at = text.find(key);
    if (at != std::string::npos) {
      auto end = text.find('\n', at + 1);
      text.replace(at + 1, end - at - 1, "county = \"" + county + "\"");
    }
  }
  std::cout << text;
  return kExitOk;
}

uint64_t CountEnvelopes(const Replica& r) {
  uint64_t n = 0;
  Must(r.Scan(kKeysScope, [&](const Record&) {
    ++n;
    return true;
  }), "counting key envelopes");
  return n;
}

// Publishes `p` from the root replica and reports what was written.
int Publish(Globals& g, Replica& r, const Policy& p, const std::optional<Policy>& before, const std::string& what) {
  uint64_t envelopes_before = CountEnvelopes(r);
  CommitInfo ci = Must(r.PublishPolicy(p), "publishing policy", "the version must be newer than the current one");
  uint64_t envelopes = CountEnvelopes(r) - envelopes_before;
  uint64_t policy_seq = ci.last_seq;
  for (uint64_t s = ci.first_seq; s <= ci.last_seq && s != 0; ++s) {
    auto d = r.GetDelta(r.author(), s);
    if (!d.ok()) continue;
    auto info = inspect::Describe(r, *d);
    if (info.ok() && info->scope == kPolicyScope) policy_seq = s;
  }
  // Scopes whose epoch moved (revocation).
  json rotated = json::array();
  for (const auto& s : p.scopes()) {
    const ScopeSpec* old = before ? before->FindScope(s.name) : nullptr;
    if (old && old->epoch != s.epoch) rotated.push_back({{"scope", s.name}, {"from", old->epoch}, {"to", s.epoch}});
  }
  if (g.json) {
    PrintJson({{"version", p.version()}, {"author", r.author().ToHex()}, {"first_seq", ci.first_seq},
               {"last_seq", ci.last_seq}, {"policy_seq", policy_seq}, {"op_count", ci.op_count},
               {"envelopes", envelopes}, {"rotated", rotated}, {"change", what}});
    return kExitOk;
  }
  Say(g, "Published policy version " + std::to_string(p.version()) + (what.empty() ? "" : " (" + what + ")"));
  Say(g, "  delta seq " + std::to_string(policy_seq) + " of " + Short(r.author()) +
             (ci.first_seq != ci.last_seq ? " (deltas " + std::to_string(ci.first_seq) + ".." +
                                                std::to_string(ci.last_seq) + ")"
                                          : ""));
  Say(g, "  " + std::to_string(envelopes) + " key envelope(s) written");
  for (const auto& rj : rotated) {
    Say(g, "  scope " + rj["scope"].get<std::string>() + ": new key epoch " + std::to_string(rj["to"].get<uint32_t>()) +
               " (was " + std::to_string(rj["from"].get<uint32_t>()) + ")");
  }
  Say(g, "Carry the root's deltas to the other replicas (`hearth export`/`import` or `merge`).");
  return kExitOk;
}

int Sign(Globals& g, const std::string& file) {
  auto r = OpenGlobal(g);
  RequireRoot(*r);
  auto loaded = Policy::LoadFile(file);
  if (!loaded.ok()) {
    Fail(kExitUsage, loaded.status().message() +
                         (loaded.status().code() == Code::kInvalidArgument
                              ? "\n  `hearth policy template` prints a valid starting point"
                              : ""));
  }
  Policy p = std::move(loaded).value();
  auto cur = Must(r->CurrentPolicy(), "reading the policy");
  if (cur && p.version() <= cur->version()) {
    Fail(kExitUsage, file + ": version " + std::to_string(p.version()) + " is not newer than the current version " +
                         std::to_string(cur->version()) + "; set version = " + std::to_string(cur->version() + 1));
  }
  return Publish(g, *r, p, cur, "signed " + file);
}

// Copy of `p` without the grants `drop` selects (Policy has no removal).
Policy WithoutGrants(const Policy& p, const std::function<bool(const Grant&)>& drop) {
  Policy out;
  out.set_version(p.version());
  out.set_county(p.county());
  for (const auto& s : p.scopes()) Must(out.AddScope(s), "copying policy");
  for (const auto& m : p.members()) Must(out.AddMember(m), "copying policy");
  for (const auto& gr : p.grants())
    if (!drop(gr)) Must(out.AddGrant(gr), "copying policy");
  return out;
}

// Current policy (or an empty one, version 0) -> fn -> version + 1 ->
// publish, or print the TOML when dry_run.
int Edit(Globals& g, bool dry_run, const std::string& what, const std::function<void(Policy&)>& fn) {
  auto r = OpenGlobal(g);
  if (!dry_run) RequireRoot(*r);
  auto cur = Must(r->CurrentPolicy(), "reading the policy");
  Policy p;
  if (cur) p = *cur;
  else p.set_version(0);
  const uint64_t next = p.version() + 1;
  fn(p);
  p.set_version(next);
  // The same checks every replica's parser applies (grants name declared scopes, ...).
  auto check = Policy::Parse(p.ToToml(), "edited policy");
  if (!check.ok()) Fail(kExitUsage, check.status().message());
  if (dry_run) {
    std::cout << p.ToToml();
    return kExitOk;
  }
  return Publish(g, *r, p, cur, what);
}

void MustEdit(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(kExitUsage, what + ": " + s.message());
}

struct MemberArgs {
  std::string key, name, agency, township, like;
  std::vector<std::string> roles;
  bool dry_run = false;
};

int AddMember(Globals& g, const MemberArgs& a) {
  AuthorId key = ParseAuthor(a.key);
  return Edit(g, a.dry_run, "added member " + Short(key), [&](Policy& p) {
    if (p.FindMember(key)) Fail(kExitUsage, "member " + key.ToHex() + " is already in the policy");
    Member m;
    if (!a.like.empty()) {
      // A restored replica's new identity (docs/durability.md, "Restoring a
      // backup"): the old member's place; the old member stays.
      AuthorId old = ParseAuthor(a.like);
      const Member* o = p.FindMember(old);
      if (!o) Fail(kExitUsage, "add-member --like: " + old.ToHex() + " is not a member of the policy");
      m.name = o->name + " (restored)";
      m.agency = o->agency;
      m.township = o->township;
      m.roles = o->roles;
    } else if (a.name.empty() || a.agency.empty()) {
      Fail(kExitUsage, "add-member: give --name and --agency (or --like OLDKEY to copy an existing member's)");
    }
    m.key = key;
    if (!a.name.empty()) m.name = a.name;
    if (!a.agency.empty()) m.agency = a.agency;
    if (!a.township.empty()) m.township = a.township;
    if (!a.roles.empty()) m.roles = a.roles;
    MustEdit(p.AddMember(std::move(m)), "add-member");
  });
}

struct ScopeArgs {
  std::string name, description;
  bool dry_run = false;
};

int AddScope(Globals& g, const ScopeArgs& a) {
  return Edit(g, a.dry_run, "added scope " + a.name, [&](Policy& p) {
    if (p.FindScope(a.name)) Fail(kExitUsage, "scope " + a.name + " is already in the policy");
    MustEdit(p.AddScope({a.name, 1, a.description}), "add-scope");
  });
}

struct GrantArgs {
  std::string agency, role, scope, rights;
  bool dry_run = false;
};

int GrantCmd(Globals& g, const GrantArgs& a) {
  if (a.agency.empty() == a.role.empty()) Fail(kExitUsage, "grant: give exactly one of --agency or --role");
  Rights rights = ParseRights(a.rights);
  std::string subject = a.agency.empty() ? "role " + a.role : "agency " + a.agency;
  return Edit(g, a.dry_run, subject + " " + (rights ? RightsToString(rights) : "nothing") + " on " + a.scope,
              [&](Policy& p) {
                if (a.scope != "*" && !p.FindScope(a.scope)) {
                  Fail(kExitUsage, "unknown scope '" + a.scope + "'; declare it first with `hearth policy add-scope " +
                                       a.scope + "`");
                }
                // The grant replaces any earlier one for the same subject and scope.
                p = WithoutGrants(p, [&](const Grant& gr) {
                  return gr.agency == a.agency && gr.role == a.role && gr.scope == a.scope;
                });
                if (rights) MustEdit(p.AddGrant({a.agency, a.role, a.scope, rights}), "grant");
              });
}

struct RevokeArgs {
  std::string key;
  uint64_t after_seq = 0;
  bool dry_run = false;
};

int RevokeCmd(Globals& g, const RevokeArgs& a) {
  AuthorId key = ParseAuthor(a.key);
  return Edit(g, a.dry_run, "revoked " + Short(key) + " after seq " + std::to_string(a.after_seq), [&](Policy& p) {
    const Member* m = p.FindMember(key);
    if (!m) Fail(kExitUsage, "revoke: " + key.ToHex() + " is not a member of the policy");
    if (m->revoked_after) {
      Fail(kExitUsage, "revoke: member " + m->name + " is already revoked after seq " +
                           std::to_string(*m->revoked_after));
    }
    MustEdit(p.Revoke(key, a.after_seq), "revoke");
  });
}

int DeniedCmd(Globals& g) {
  auto r = OpenGlobal(g);
  auto denied = Must(inspect::Denied(*r), "listing the denied deltas");
  auto p = Must(r->CurrentPolicy(), "reading the policy");
  auto name_of = [&](const AuthorId& a) -> std::string {
    const Member* m = p ? p->FindMember(a) : nullptr;
    return m ? (m->name.empty() ? m->agency : m->name) : "";
  };
  if (g.json) {
    json arr = json::array();
    for (const auto& d : denied) {
      arr.push_back({{"author", d.author.ToHex()}, {"name", name_of(d.author)}, {"seq", d.seq},
                     {"scope", d.scope}, {"reason", d.reason}});
    }
    PrintJson({{"denied", arr}, {"policy_version", p ? p->version() : 0}});
    return kExitOk;
  }
  if (denied.empty()) {
    Say(g, "no denied deltas");
    return kExitOk;
  }
  Table t({"AUTHOR", "NAME", "SEQ", "SCOPE", "REASON"});
  for (const auto& d : denied) {
    std::string n = name_of(d.author);
    t.Add({Short(d.author), n.empty() ? "-" : n, std::to_string(d.seq), d.scope, d.reason});
  }
  t.Print();
  Say(g, std::to_string(denied.size()) + " delta(s) kept but not applied; they count again if a later policy allows them");
  return kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, Globals& g) {
  auto* pol = app.add_subcommand("policy", "Access policy: show, template, sign, and edit (county root)");
  pol->require_subcommand(1);

  auto* show = pol->add_subcommand("show", "Print the policy in force: scopes, members, grant matrix");
  show->callback([&g] { g.action = [&g] { return Show(g); }; });

  auto* tmpl = pol->add_subcommand("template", "Print the default county policy (policies/county.toml)");
  auto county = std::make_shared<std::string>();
  tmpl->add_option("--county", *county, "County name to put in the template");
  tmpl->callback([&g, county] { g.action = [&g, county] { return Template(g, *county); }; });

  auto* sign = pol->add_subcommand("sign", "Publish a policy file (root replica only; version must be newer)");
  auto sign_file = std::make_shared<std::string>();
  sign->add_option("FILE", *sign_file, "Policy file (TOML)")->required()->check(CLI::ExistingFile);
  sign->callback([&g, sign_file] { g.action = [&g, sign_file] { return Sign(g, *sign_file); }; });

  const char* kDry = "Print the resulting policy (TOML) instead of publishing it";
  {
    auto* c = pol->add_subcommand("add-member", "Add a member (node key) and publish the next version");
    auto a = std::make_shared<MemberArgs>();
    c->add_option("KEY", a->key, "The node's public key (`hearth whoami` there; 64 hex)")->required();
    c->add_option("--name", a->name, "Name shown to people (required without --like)");
    c->add_option("--agency", a->agency, "hr | union | civil | township | ... (required without --like)");
    c->add_option("--like", a->like,
                  "Copy name (+\" (restored)\"), agency, township and roles of this member (64 hex): the new "
                  "identity of a restored replica (`hearth restore`); the old member stays");
    c->add_option("--township", a->township, "Township of the node");
    c->add_option("--role", a->roles, "Role (repeatable), e.g. child_care, labour_inspector");
    c->add_flag("--dry-run", a->dry_run, kDry);
    c->callback([&g, a] { g.action = [&g, a] { return AddMember(g, *a); }; });
  }
  {
    auto* c = pol->add_subcommand("add-scope", "Declare a scope (key epoch 1) and publish the next version");
    auto a = std::make_shared<ScopeArgs>();
    c->add_option("NAME", a->name, "Scope name (a-z, 0-9, '.', '_', '-')")->required();
    c->add_option("--description", a->description, "What the scope holds");
    c->add_flag("--dry-run", a->dry_run, kDry);
    c->callback([&g, a] { g.action = [&g, a] { return AddScope(g, *a); }; });
  }
  {
    auto* c = pol->add_subcommand("grant", "Set the rights of an agency or role on a scope; publish the next version");
    auto a = std::make_shared<GrantArgs>();
    auto* ag = c->add_option("--agency", a->agency, "Every member of this agency");
    auto* ro = c->add_option("--role", a->role, "Every member holding this role");
    ag->excludes(ro);
    c->add_option("--scope", a->scope, "Scope (or * for every scope)")->required();
    c->add_option("--rights", a->rights, "read,write,relay (any subset), or none to remove the grant")->required();
    c->add_flag("--dry-run", a->dry_run, kDry);
    c->callback([&g, a] { g.action = [&g, a] { return GrantCmd(g, *a); }; });
  }
  {
    auto* c = pol->add_subcommand("revoke", "Revoke a member after its seq N (new key epochs); publish the next version");
    auto a = std::make_shared<RevokeArgs>();
    c->add_option("KEY", a->key, "The member's public key (64 hex)")->required();
    c->add_option("--after-seq", a->after_seq, "Its deltas up to this seq stay valid; later ones are refused")
        ->required();
    c->add_flag("--dry-run", a->dry_run, kDry);
    c->callback([&g, a] { g.action = [&g, a] { return RevokeCmd(g, *a); }; });
  }

  auto* denied = app.add_subcommand("denied", "List deltas the access policy refuses, with reasons");
  denied->callback([&g] { g.action = [&g] { return DeniedCmd(g); }; });
}

}  // namespace hcli
