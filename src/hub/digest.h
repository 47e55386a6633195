#pragma once
// Content checks for downloaded blobs (OpenSSL's EVP digests): the Hub names
// an LFS file by its SHA-256 and a plain git file by its git blob SHA-1.
#include <string>

namespace qsenti::hub {

// Lower-case hex SHA-256 of a file's bytes.
std::string sha256_file(const std::string& path);
// Lower-case hex of git's blob id: SHA-1 of "blob <size>\0" + the bytes.
std::string git_blob_sha1_file(const std::string& path);

bool is_hex(const std::string& s, size_t length);

}  // namespace qsenti::hub
