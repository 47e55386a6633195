#include <gtest/gtest.h>

#include "test_util.h"

#include <cstdio>
#include <string>

// The CLI binary runs and answers --help.
TEST(Cli, HelpExitsZero) {
  std::string cmd = std::string(qsenti::test::binary()) + " --help > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}
