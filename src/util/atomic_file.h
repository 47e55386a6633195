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

// Renames a finished temporary file into place: the file is fsynced first and
// its folder after, so a crash leaves the old or the new file, never a torn
// one or a lost rename. On failure the temporary file is removed
// (commit_temp_file) or kept for the caller (rename_into_place: e.g.
// prediction rows the user must not lose).
void commit_temp_file(const std::string& tmp_path, const std::string& path);
void rename_into_place(const std::string& tmp_path, const std::string& path);
std::string temp_path_for(const std::string& path);

// fsync of a folder, so that renames and new entries in it survive a crash.
void fsync_directory(const std::string& dir);

// Puts the finished folder `tmp` in place of `dir` (which may not exist):
// tmp's entries and the parent are fsynced, and an existing `dir` is swapped
// out in one step (renameat2 RENAME_EXCHANGE), so at every moment one whole
// copy is there under `dir`; the old copy is removed afterwards.
void replace_directory(const std::string& tmp, const std::string& dir);

}  // namespace qsenti
