#include <gtest/gtest.h>

#include <cstdio>
#include <string>

// The CLI binary runs and answers --help.
TEST(Cli, HelpExitsZero) {
  std::string cmd = std::string(QSENTI_BINARY) + " --help > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}
