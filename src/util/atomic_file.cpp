#include "util/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE (glibc 2.28+)
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace qsenti {

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some file systems refuse it
  ::fsync(fd);
  ::close(fd);
}

void replace_directory(const std::string& tmp, const std::string& dir) {
  namespace fs = std::filesystem;
  fsync_directory(tmp);
  const fs::path parent = fs::path(dir).parent_path();
  const std::string parent_dir = parent.empty() ? "." : parent.string();
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
      fsync_directory(parent_dir);
      fs::remove_all(tmp, ec);  // now the old copy
      return;
    }
    // No RENAME_EXCHANGE on this file system: the old copy steps aside first,
    // so a crash leaves it under "<dir>.old".
    const std::string old = dir + ".old";
    fs::remove_all(old, ec);
    fs::rename(dir, old);
    fs::rename(tmp, dir);
    fsync_directory(parent_dir);
    fs::remove_all(old, ec);
    return;
  }
  fs::rename(tmp, dir);
  fsync_directory(parent_dir);
}

void rename_into_place(const std::string& tmp_path, const std::string& path) {
  int fd = ::open(tmp_path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0)
    throw Error("cannot rename " + tmp_path + " to " + path + ": " + std::strerror(errno));
  // The rename itself lives in the folder: without this a crash can undo it.
  const auto slash = path.find_last_of('/');
  fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

void commit_temp_file(const std::string& tmp_path, const std::string& path) {
  try {
    rename_into_place(tmp_path, path);
  } catch (...) {
    std::remove(tmp_path.c_str());
    throw;
  }
}

void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& write) {
  const std::string tmp = temp_path_for(path);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error("cannot write " + tmp + ": " + std::strerror(errno));
      write(out);
      out.flush();
      if (!out) throw Error("error while writing " + tmp + " (disk full?)");
    }
    commit_temp_file(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

}  // namespace qsenti
