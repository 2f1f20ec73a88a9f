// init, keygen, whoami, keys export/import/list, schema show/set/publish.
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "common.hpp"

namespace hcli {

using namespace hearth;
namespace fs = std::filesystem;

namespace {

Schema LoadSchema(const std::string& path) {
  auto s = Schema::LoadFile(path);
  if (!s.ok()) {
    Fail(kExitUsage, "schema " + path + ": " + s.status().message() +
                         (s.status().code() == Code::kNotFound ? "" : "\n  see docs/schema.md for the format"));
  }
  return std::move(s).value();
}

// Access control at creation: the county root this replica obeys, or this
// replica is the root itself.
struct RootArgs {
  std::string root;  // hex
  bool is_root = false;
};

// "root <hex> (this replica is the county root)" or "... (obeyed)"; empty without a root.
std::string RootLine(const Replica& r) {
  auto root = r.root();
  if (!root) return "";
  return "root        " + root->ToHex() +
         (*root == r.author() ? " (this replica is the county root)" : " (county root obeyed)");
}

json RootJson(const Replica& r) {
  auto root = r.root();
  return {{"root", root ? json(root->ToHex()) : json(nullptr)}, {"is_root", root && *root == r.author()}};
}

// Imports a keyring file into `r`; returns (new keys, held after). Keys
// that differ from held ones are reported on stderr, not imported.
std::pair<size_t, size_t> ImportKeysFile(Globals& g, Replica& r, const std::string& file, const std::string& data,
                                         std::vector<ScopeEpoch>* conflicts) {
  auto before = Must(r.ListKeys(), "listing the scope keys").size();
  Status s = r.ImportKeyring({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, conflicts);
  if (!s.ok()) FailStatus(s, "importing keyring " + file, "the file must come from `hearth keys export`");
  auto after = Must(r.ListKeys(), "listing the scope keys").size();
  if (!g.json) {
    for (const ScopeEpoch& c : *conflicts) {
      std::cerr << "not imported: scope " << c.scope << " epoch " << c.epoch
                << ": this replica holds a different key for it (created separately). Deltas written under "
                   "either key stay unreadable to the other side; way out: `hearth keys rotate "
                << c.scope << "` on ONE replica, then `hearth keys export --scope " << c.scope
                << "` and `hearth keys import` on the other (docs/policy.md, \"Keys without a root\")\n";
    }
  }
  return {after - before, after};
}

int Init(Globals& g, const std::string& dir, const std::string& schema_path, const std::string& identity,
         bool unencrypted, const RootArgs& ra, const std::string& keys_file) {
  CheckIdentityChoice(unencrypted);
  std::optional<AuthorId> root_key;
  if (!ra.root.empty()) root_key = ParseAuthor(ra.root);
  if (IsReplicaDir(dir)) {
    Fail(kExitRuntime, dir + " already holds a Hearth replica; use `hearth -C " + dir +
                           " schema set FILE` to change its schema");
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec))) {
    Fail(kExitRuntime, dir + " exists and is not an empty directory; choose a new or empty directory");
  }
  std::optional<Schema> schema;
  if (!schema_path.empty()) schema = LoadSchema(schema_path);
  std::string keyring;
  if (!keys_file.empty()) {
    if (root_key || ra.is_root) {
      Fail(kExitUsage, "--keys is for replicas without a county root (under a root, keys come from the root's "
                       "key envelopes)");
    }
    keyring = ReadSmallFile(keys_file, "keyring");
  }
  if (!identity.empty()) {
    Must(ReadIdentityFile(identity, EnvPassphrase()), "identity", "create one with `hearth keygen FILE`");
    fs::create_directories(dir, ec);
    if (ec) Fail(kExitRuntime, "cannot create " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    std::string data = ReadSmallFile(identity, "identity file");
    WriteNewFile(dir + "/identity.key", data, 0600, "identity");
  }
  ReplicaOptions o;
  o.create_if_missing = true;
  o.schema = schema;
  o.passphrase = EnvPassphrase();
  o.unencrypted_identity = unencrypted;
  o.root = root_key;
  o.is_root = ra.is_root;
  auto r = Must(Replica::Open(dir, o), "creating replica " + dir,
                "set HEARTH_PASSPHRASE to protect the identity, or pass --unencrypted-identity for an unattended node");
  std::vector<ScopeEpoch> conflicts;
  size_t imported = 0;
  if (!keys_file.empty()) imported = ImportKeysFile(g, *r, keys_file, keyring, &conflicts).first;
  if (g.json) {
    json j = {{"dir", dir}, {"author", r->author().ToHex()}, {"collections", r->schema().collections().size()}};
    j.update(RootJson(*r));
    if (!keys_file.empty()) j["keys_imported"] = imported;
    PrintJson(j);
  } else {
    Say(g, "Initialised Hearth replica in " + dir);
    Say(g, "author      " + r->author().ToHex());
    Say(g, "collections " + std::to_string(r->schema().collections().size()) +
               (schema_path.empty() ? " (no schema: set one with `hearth -C " + dir + " schema set FILE`)" : ""));
    if (std::string line = RootLine(*r); !line.empty()) Say(g, line);
    if (!keys_file.empty()) Say(g, "keys        " + std::to_string(imported) + " scope key(s) imported from " + keys_file);
  }
  return kExitOk;
}

// docs/durability.md, "Restoring a backup".
int RestoreCmd(Globals& g, const std::string& dir, bool keep_identity, bool unencrypted) {
  CheckIdentityChoice(unencrypted);
  if (!IsReplicaDir(dir)) {
    Fail(kExitRuntime, dir + " is not a Hearth replica directory (no data.mdb); name the backup or copied "
                             "replica directory to restore");
  }
  RestoreOptions o;
  o.passphrase = EnvPassphrase();
  o.unencrypted_identity = unencrypted;
  o.keep_identity = keep_identity;
  auto r = Replica::Restore(dir, o);
  if (!r.ok()) {
    std::string hint;
    if (r.status().message().find("passphrase") != std::string::npos) {
      hint = "set HEARTH_PASSPHRASE to protect the new identity, or pass --unencrypted-identity for an unattended node";
    }
    FailStatus(r.status(), "restore " + dir, hint);
  }
  const RestoreInfo& info = *r;
  const std::string nk = info.author.ToHex(), ok = info.old_author.ToHex();
  const bool member_step = info.new_identity && info.root;
  if (g.json) {
    json j = {{"dir", dir},
              {"author", nk},
              {"old_author", ok},
              {"new_identity", info.new_identity},
              {"retired_identity", info.retired_identity_file},
              {"root", info.root ? json(info.root->ToHex()) : json(nullptr)}};
    j["root_must_run"] = member_step ? json("hearth policy add-member " + nk + " --like " + ok) : json(nullptr);
    PrintJson(j);
    return kExitOk;
  }
  if (!info.new_identity) {
    Say(g, "Marked " + dir + " as the live copy of author " + nk + " (identity kept).");
    Say(g, "Only safe if this identity's own feed was synced back from the peers first and the original replica "
           "is gone for good: if the original still writes, the two fork (docs/durability.md, \"Restoring a backup\").");
    return kExitOk;
  }
  Say(g, "Restored " + dir + " under a new identity; it is the live copy now.");
  Say(g, "author      " + nk + " (new; its feed starts at seq 1)");
  Say(g, "old author  " + ok + " (its feed stays in the replica; identity kept as " + info.retired_identity_file + ")");
  if (member_step) {
    Say(g, "");
    Say(g, "This replica obeys county root " + info.root->ToHex().substr(0, 16) +
               ": it may write once the root has added the new identity. On the root's replica run:");
    Say(g, "  hearth policy add-member " + nk + " --like " + ok);
    Say(g, "then sync (or merge) the new policy here. Revoke the old member (`hearth policy revoke " + ok +
               " --after-seq N`, N its newest seq) only when the original replica is gone for good.");
  } else {
    Say(g, "It may write now; peers take the new author's deltas as any other author's.");
  }
  return kExitOk;
}

int Keygen(Globals& g, const std::string& out) {
  AuthorId a = Must(CreateIdentityFile(out, EnvPassphrase()), "keygen");
  if (g.json) PrintJson({{"file", out}, {"author", a.ToHex()}});
  else {
    Say(g, "Wrote new identity to " + out + " (mode 0600; it is a secret key: keep it safe)");
    Say(g, "author " + a.ToHex());
  }
  return kExitOk;
}

int Whoami(Globals& g) {
  auto r = OpenGlobal(g);
  if (g.json) {
    json j = {{"author", r->author().ToHex()}, {"dir", r->dir()}};
    j.update(RootJson(*r));
    PrintJson(j);
  } else {
    std::cout << r->author().ToHex() << "\n";  // alone on stdout, for $(hearth whoami)
    if (std::string line = RootLine(*r); !line.empty() && !g.quiet) std::cerr << line << "\n";
  }
  return kExitOk;
}

int KeysExport(Globals& g, const std::string& out, const std::vector<std::string>& scopes) {
  auto r = OpenGlobal(g);
  Bytes kr = Must(r->ExportKeyring(scopes), "exporting keyring");
  uint32_t count = kr.size() >= 5 ? hearth::base::LoadBE32(&kr[1]) : 0;
  if (!scopes.empty() && count == 0) {
    Fail(kExitUsage, "no key held for the scope(s) given; see `hearth keys list`");
  }
  if (count == 0) {
    Fail(kExitProblem, "nothing to export: this replica holds no scope key; create one with `hearth keys new "
                       "SCOPE` (or `keys new --all`), or import a keyring with `hearth keys import`");
  }
  WriteNewFile(out, {reinterpret_cast<const char*>(kr.data()), kr.size()}, 0600, "keyring");
  if (g.json) PrintJson({{"file", out}, {"keys", count}});
  else Say(g, "Exported " + std::to_string(count) + " scope key(s) to " + out +
                  " (mode 0600; secret material: delete it once imported)");
  return kExitOk;
}

int KeysImport(Globals& g, const std::string& file) {
  std::string data = ReadSmallFile(file, "keyring");
  auto r = OpenGlobal(g);
  std::vector<ScopeEpoch> conflicts;
  auto [added, after] = ImportKeysFile(g, *r, file, data, &conflicts);
  if (g.json) {
    json c = json::array();
    for (const auto& [scope, epoch] : conflicts) c.push_back({{"scope", scope}, {"epoch", epoch}});
    PrintJson({{"file", file}, {"added", added}, {"keys", after}, {"conflicts", c}});
  } else {
    Say(g, "Imported " + file + ": " + std::to_string(added) + " new scope key(s), " + std::to_string(after) +
               " held" + (conflicts.empty() ? "" : ", " + std::to_string(conflicts.size()) + " not imported (a different key is held)"));
  }
  return conflicts.empty() ? kExitOk : kExitProblem;
}

int KeysNew(Globals& g, const std::vector<std::string>& scopes, bool all) {
  auto r = OpenGlobal(g);
  std::vector<std::string> todo = scopes;
  if (all) {
    if (!scopes.empty()) Fail(kExitUsage, "give SCOPE... or --all, not both");
    std::set<std::string> declared;
    for (const auto& c : r->schema().collections()) declared.insert(c.scope);
    std::set<std::string> held;
    for (const auto& k : Must(r->ListKeys(), "listing the scope keys")) held.insert(k.scope);
    for (const std::string& s : declared) {
      if (!held.count(s)) todo.push_back(s);
    }
    if (todo.empty() && !r->root()) {
      Fail(kExitProblem, declared.empty() ? "the schema declares no scope (set one with `hearth schema set FILE`)"
                                          : "every scope of the schema already has a key (`hearth keys list`)");
    }
  } else if (scopes.empty()) {
    Fail(kExitUsage, "give SCOPE... or --all");
  }
  json made = json::array();
  for (const std::string& s : todo) {
    ScopeEpoch se = Must(r->CreateScopeKey(s), "creating the key of scope " + s);
    made.push_back({{"scope", se.scope}, {"epoch", se.epoch}});
    if (!g.json) Say(g, "Created key for scope " + se.scope + " epoch " + std::to_string(se.epoch));
  }
  if (g.json) PrintJson({{"created", made}});
  else Say(g, "Copy it to the other replicas: `hearth keys export FILE`, then `hearth keys import FILE` there");
  return kExitOk;
}

int KeysRotate(Globals& g, const std::string& scope) {
  auto r = OpenGlobal(g);
  ScopeEpoch se = Must(r->RotateScopeKey(scope), "rotating the key of scope " + scope);
  if (g.json) {
    PrintJson({{"scope", se.scope}, {"epoch", se.epoch}});
  } else {
    Say(g, "New key for scope " + se.scope + " epoch " + std::to_string(se.epoch) +
               "; writes use it from now on (older epochs stay held for reading)");
    Say(g, "Copy it to the other replicas: `hearth keys export --scope " + se.scope +
               " FILE`, then `hearth keys import FILE` there");
  }
  return kExitOk;
}

int KeysList(Globals& g) {
  auto r = OpenGlobal(g);
  auto keys = Must(r->ListKeys(), "listing the scope keys");
  if (g.json) {
    json a = json::array();
    for (const auto& [scope, epoch] : keys) a.push_back({{"scope", scope}, {"epoch", epoch}});
    PrintJson({{"keys", a}});
    return kExitOk;
  }
  Table t({"SCOPE", "EPOCH"});
  for (const auto& [scope, epoch] : keys) t.Add({scope, std::to_string(epoch)});
  t.Print();
  return kExitOk;
}

int SchemaShow(Globals& g) {
  auto r = OpenGlobal(g);
  const Schema& s = r->schema();
  if (g.json) {
    json cols = json::array();
    for (const auto& c : s.collections()) {
      json fields = json::array();
      for (const auto& f : c.fields) {
        json jf = {{"name", f.name}, {"type", std::string(FieldTypeName(f.type))}, {"indexed", f.indexed}};
        if (f.value_type) jf["value"] = std::string(ValueTypeName(*f.value_type));
        if (!f.order.empty()) jf["order"] = f.order;
        if (!f.ref_collection.empty()) jf["ref_collection"] = f.ref_collection;
        fields.push_back(jf);
      }
      cols.push_back({{"name", c.name}, {"scope", c.scope}, {"fields", fields}});
    }
    PrintJson({{"collections", cols}, {"toml", s.ToToml()}});
  } else {
    std::cout << s.ToToml();
  }
  return kExitOk;
}

int SchemaSet(Globals& g, const std::string& file) {
  Schema schema = LoadSchema(file);
  { auto check = OpenGlobal(g); }  // the helpful "not a replica" errors
  ReplicaOptions o;
  o.create_if_missing = false;
  o.passphrase = EnvPassphrase();
  o.schema = schema;
  auto r = Must(Replica::Open(g.replica, o), "setting schema of " + g.replica);
  if (g.json) PrintJson({{"dir", g.replica}, {"collections", r->schema().collections().size()}});
  else Say(g, "Schema of " + g.replica + " set from " + file + " (" +
                  std::to_string(r->schema().collections().size()) + " collections)");
  return kExitOk;
}

// Root only: publishes FILE as the county's schema ($schema).
int SchemaPublish(Globals& g, const std::string& file) {
  Schema schema = LoadSchema(file);
  auto r = OpenGlobal(g);
  CommitInfo ci = Must(r->PublishSchema(schema), "publishing the schema from " + file);
  if (g.json) {
    PrintJson({{"dir", g.replica}, {"version", schema.version()}, {"seq", ci.last_seq},
               {"collections", schema.collections().size()}});
  } else {
    Say(g, "Published schema version " + std::to_string(schema.version()) + " from " + file + " (" +
               std::to_string(schema.collections().size()) + " collections, delta #" + std::to_string(ci.last_seq) +
               "); every replica under this root adopts it when the delta reaches it");
  }
  return kExitOk;
}

}  // namespace

void AddSetupCommands(CLI::App& app, Globals& g) {
  auto* init = app.add_subcommand("init", "Create a new replica directory");
  auto init_dir = std::make_shared<std::string>();
  auto init_schema = std::make_shared<std::string>();
  auto init_identity = std::make_shared<std::string>();
  init->add_option("DIR", *init_dir, "Directory to create (must be new or empty)")->required();
  init->add_option("--schema", *init_schema, "Schema file (TOML, docs/schema.md) to store")->check(CLI::ExistingFile);
  init->add_option("--identity", *init_identity, "Use this identity file (from `hearth keygen`) instead of a new one")
      ->check(CLI::ExistingFile);
  auto init_plain = std::make_shared<bool>(false);
  init->add_flag("--unencrypted-identity", *init_plain,
                 "Store a new identity unencrypted (unattended nodes; not with $HEARTH_PASSPHRASE set, which protects it)");
  auto init_root = std::make_shared<RootArgs>();
  auto* root_opt = init->add_option("--root", init_root->root,
                                    "Obey the policy signed by this county root key (64 hex; set once)");
  auto* is_root_opt = init->add_flag("--is-root", init_root->is_root,
                                     "This replica is the county root (the administrator's): it signs policy");
  root_opt->excludes(is_root_opt);
  auto init_keys = std::make_shared<std::string>();
  init->add_option("--keys", *init_keys,
                   "Import this keyring (from `hearth keys export`) into the new replica (no county root only)")
      ->check(CLI::ExistingFile);
  init->callback([&g, init_dir, init_schema, init_identity, init_plain, init_root, init_keys] {
    g.action = [&g, init_dir, init_schema, init_identity, init_plain, init_root, init_keys] {
      return Init(g, *init_dir, *init_schema, *init_identity, *init_plain, *init_root, *init_keys);
    };
  });

  {
    auto* rs = app.add_subcommand("restore",
                                  "Make a backup or copied replica directory the live copy (a new identity; docs/durability.md)");
    auto dir = std::make_shared<std::string>();
    auto keep = std::make_shared<bool>(false);
    auto plain = std::make_shared<bool>(false);
    rs->add_option("DIR", *dir, "The backup or copied replica directory")->required();
    rs->add_flag("--keep-identity", *keep,
                 "Keep the identity (the only way for the county root): only after syncing its own feed back from "
                 "the peers, and only when the original is gone for good");
    rs->add_flag("--unencrypted-identity", *plain,
                 "Store the new identity unencrypted (unattended nodes; not with $HEARTH_PASSPHRASE set)");
    rs->callback([&g, dir, keep, plain] {
      g.action = [&g, dir, keep, plain] { return RestoreCmd(g, *dir, *keep, *plain); };
    });
  }

  auto* keygen = app.add_subcommand("keygen", "Write a new node identity file (mode 0600, never overwrites)");
  auto keygen_out = std::make_shared<std::string>();
  keygen->add_option("OUT_FILE", *keygen_out, "File to create")->required();
  keygen->callback([&g, keygen_out] { g.action = [&g, keygen_out] { return Keygen(g, *keygen_out); }; });

  auto* whoami = app.add_subcommand("whoami", "Print the replica's author id (hex); its county root on stderr");
  whoami->callback([&g] { g.action = [&g] { return Whoami(g); }; });

  auto* keys = app.add_subcommand("keys", "Scope keys: new, rotate, list, export, import");
  keys->require_subcommand(1);
  auto* kexp = keys->add_subcommand("export", "Write scope keys to a file (secret; mode 0600)");
  auto kexp_out = std::make_shared<std::string>();
  auto kexp_scopes = std::make_shared<std::vector<std::string>>();
  kexp->add_option("OUT", *kexp_out, "File to create")->required();
  kexp->add_option("--scope", *kexp_scopes, "Only this scope (repeatable; default all)");
  kexp->callback([&g, kexp_out, kexp_scopes] {
    g.action = [&g, kexp_out, kexp_scopes] { return KeysExport(g, *kexp_out, *kexp_scopes); };
  });
  auto* kimp = keys->add_subcommand("import", "Add the scope keys of a keyring file");
  auto kimp_file = std::make_shared<std::string>();
  kimp->add_option("FILE", *kimp_file, "Keyring file from `hearth keys export`")->required()->check(CLI::ExistingFile);
  kimp->callback([&g, kimp_file] { g.action = [&g, kimp_file] { return KeysImport(g, *kimp_file); }; });
  auto* knew = keys->add_subcommand("new", "Create the key of a scope (no county root; on ONE replica, then export it)");
  auto knew_scopes = std::make_shared<std::vector<std::string>>();
  auto knew_all = std::make_shared<bool>(false);
  knew->add_option("SCOPE", *knew_scopes, "Scope(s) of the schema");
  knew->add_flag("--all", *knew_all, "Every scope of the schema that has no key yet");
  knew->callback([&g, knew_scopes, knew_all] {
    g.action = [&g, knew_scopes, knew_all] { return KeysNew(g, *knew_scopes, *knew_all); };
  });
  auto* krot = keys->add_subcommand("rotate", "New key for a scope at the next epoch (no county root)");
  auto krot_scope = std::make_shared<std::string>();
  krot->add_option("SCOPE", *krot_scope, "Scope to rotate")->required();
  krot->callback([&g, krot_scope] { g.action = [&g, krot_scope] { return KeysRotate(g, *krot_scope); }; });
  auto* klist = keys->add_subcommand("list", "List the scopes and epochs this replica holds keys for");
  klist->callback([&g] { g.action = [&g] { return KeysList(g); }; });

  auto* schema = app.add_subcommand("schema", "Show the schema in force, set a new one, or publish one (county root)");
  auto* sshow = schema->add_subcommand("show", "Print the schema in force (canonical TOML)");
  sshow->callback([&g] { g.action = [&g] { return SchemaShow(g); }; });
  auto* sset = schema->add_subcommand("set", "Store a new schema in the replica");
  auto sset_file = std::make_shared<std::string>();
  sset->add_option("FILE", *sset_file, "Schema file (TOML)")->required()->check(CLI::ExistingFile);
  sset->callback([&g, sset_file] { g.action = [&g, sset_file] { return SchemaSet(g, *sset_file); }; });
  auto* spub = schema->add_subcommand("publish", "County root only: publish a new schema version to every replica");
  auto spub_file = std::make_shared<std::string>();
  spub->add_option("FILE", *spub_file, "Schema file (TOML) with a higher `version`")->required()->check(CLI::ExistingFile);
  spub->callback([&g, spub_file] { g.action = [&g, spub_file] { return SchemaPublish(g, *spub_file); }; });
  schema->callback([&g] {
    if (!g.action) g.action = [&g] { return SchemaShow(g); };
  });
}

}  // namespace hcli
