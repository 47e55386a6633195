// util/atomic_file: files and folders replaced without a moment where neither
// copy is there, and nothing left beside them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"
#include "util/atomic_file.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fill(const fs::path& dir, const std::string& file, const std::string& text) {
  fs::create_directories(dir);
  std::ofstream(dir / file) << text;
}

TEST(AtomicFile, ReplaceDirectorySwapsInTheNewCopyAndRemovesTheOld) {
  test::TempDir tmp;
  const fs::path dir = tmp / "step-5", next = tmp / "step-5.tmp";
  fill(dir, "weights", "old");
  fill(dir, "only-old", "x");
  fill(next, "weights", "new");
  replace_directory(next.string(), dir.string());
  EXPECT_EQ(slurp(dir / "weights"), "new");
  EXPECT_FALSE(fs::exists(dir / "only-old"));  // a whole copy, not a merge
  EXPECT_FALSE(fs::exists(next));
  EXPECT_FALSE(fs::exists(tmp / "step-5.old"));
  // Into a place that does not exist yet.
  fill(next, "weights", "first");
  replace_directory(next.string(), tmp / "fresh");
  EXPECT_EQ(slurp(fs::path(tmp / "fresh") / "weights"), "first");
  EXPECT_FALSE(fs::exists(next));
}

TEST(AtomicFile, WriteTextAtomicallyLeavesNoTemporaryFile) {
  test::TempDir tmp;
  const fs::path f = tmp / "state.json";
  write_text_atomically(f.string(), "one");
  write_text_atomically(f.string(), "two");
  EXPECT_EQ(slurp(f), "two");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) entries += e.exists();
  EXPECT_EQ(entries, 1);
  // A writer that throws leaves the old file as it was.
  EXPECT_THROW(write_file_atomically(f.string(), [](std::ostream& out) {
                 out << "half";
                 throw std::runtime_error("interrupted");
               }),
               std::runtime_error);
  EXPECT_EQ(slurp(f), "two");
}

}  // namespace
}  // namespace qsenti
