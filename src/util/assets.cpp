#include "util/assets.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

std::string assets_dir() {
  std::vector<fs::path> tried;
  if (const char* home = std::getenv("QSENTI_HOME"); home && *home) tried.push_back(fs::path(home) / "assets");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    tried.push_back(dir / "assets");
    tried.push_back(dir.parent_path() / "assets");
    tried.push_back(dir.parent_path() / "share" / "qsenti" / "assets");
  }
  // Only this file is compiled with the source folder's path (CMakeLists.txt):
  // on every file it would make each checkout's objects differ for ccache.
  tried.push_back(fs::path(QSENTI_SOURCE_DIR) / "assets");
  std::string list;
  for (const auto& p : tried) {
    if (fs::is_regular_file(p / "qwen3-tokenizer" / "tokenizer.json", ec)) return p.string();
    list += "\n  " + p.string();
  }
  throw InputError("qsenti's bundled assets (qwen3-tokenizer/tokenizer.json) were not found; looked in:" + list +
                   "\n(set QSENTI_HOME to the qsenti folder)");
}

std::string source_dir() { return QSENTI_SOURCE_DIR; }

}  // namespace qsenti
