// LoadSchemaPack: the county schema pack (schemas/county.toml).
#include <cstdlib>
#include <filesystem>

#include "county.hpp"
#include "schema_pack.hpp"  // generated: kEmbeddedSchemaPack, kSourceSchemasDir

namespace hearth::county {

namespace {
constexpr const char* kPackFile = "county.toml";
}

Result<Schema> LoadSchemaPack(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!dir.empty()) return Schema::LoadFile((fs::path(dir) / kPackFile).string());
  if (const char* env = std::getenv("HEARTH_SCHEMAS_DIR"); env && *env) {
    return Schema::LoadFile((fs::path(env) / kPackFile).string());
  }
  std::error_code ec;
  fs::path source = fs::path(kSourceSchemasDir) / kPackFile;
  if (fs::is_regular_file(source, ec)) return Schema::LoadFile(source.string());
  // Built elsewhere than it runs: the copy embedded at build time.
  return Schema::Parse(kEmbeddedSchemaPack, "<embedded schemas/county.toml>");
}

std::string SchemaPackText() { return kEmbeddedSchemaPack; }

}  // namespace hearth::county
