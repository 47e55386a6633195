#pragma once
// Files are never left half-written: write to a temporary sibling, then rename.
#include <functional>
#include <ostream>
#include <string>

namespace qsenti {

// Calls `write` with a stream on "<path>.tmp.<pid>", flushes, fsyncs and renames
// it over `path`. On any exception the temporary file is removed.
void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& write);
void write_text_atomically(const std::string& path, const std::string& text);

// Renames a finished temporary file into place (fsyncing it first).
void commit_temp_file(const std::string& tmp_path, const std::string& path);
std::string temp_path_for(const std::string& path);

// fsync of a folder, so that renames and new entries in it survive a crash.
void fsync_directory(const std::string& dir);

}  // namespace qsenti
