#pragma once
// UTF-8 validation and repair. Text from files and sockets is bytes; these
// helpers give the rest of the code well-formed UTF-8 to work on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qsenti {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence at the end).
bool is_valid_utf8(std::string_view s);

// `s` with each maximal ill-formed subsequence replaced by one U+FFFD, exactly
// as Python's bytes.decode("utf-8", errors="replace") and Rust's
// String::from_utf8_lossy do (Unicode's "maximal subpart" practice). A valid
// `s` comes back unchanged.
std::string sanitize_utf8(std::string_view s);

namespace utf8 {

// Decodes the code point starting at s[i] of a string known to be valid UTF-8
// and advances i past it.
inline char32_t next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  unsigned c = p[0];
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if (c < 0xE0) {
    i += 2;
    return ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (c < 0xF0) {
    i += 3;
    return ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  i += 4;
  return ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
         (p[3] & 0x3Fu);
}

// Appends the UTF-8 form of `cp` (which must be a Unicode scalar value).
void append(std::string& out, char32_t cp);

}  // namespace utf8
}  // namespace qsenti
