#pragma once
// Helpers of the download tests (the Hub's and ModelScope's mocks): digests,
// reproducible file contents, environment variables set for one test.
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>

namespace qsenti::test {

inline std::string hex_digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) s += {hex[out[i] >> 4], hex[out[i] & 15]};
  return s;
}

inline std::string sha256_hex(const std::string& data) { return hex_digest(EVP_sha256(), data); }

inline std::string git_sha1(const std::string& data) {
  std::string blob = "blob " + std::to_string(data.size());
  blob.push_back('\0');
  return hex_digest(EVP_sha1(), blob + data);
}

inline std::string pseudo_random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    s[i] = static_cast<char>(seed >> 24);
  }
  return s;
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Sets environment variables for one test and puts the old values back.
struct EnvGuard {
  std::map<std::string, std::optional<std::string>> saved;
  void set(const std::string& k, const char* v) {
    if (!saved.count(k)) {
      const char* old = std::getenv(k.c_str());
      saved[k] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (v) ::setenv(k.c_str(), v, 1);
    else ::unsetenv(k.c_str());
  }
  ~EnvGuard() {
    for (auto& [k, v] : saved) v ? ::setenv(k.c_str(), v->c_str(), 1) : ::unsetenv(k.c_str());
  }
};

}  // namespace qsenti::test
