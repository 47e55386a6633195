#include "text/byte_level.h"

#include <array>

#include "text/utf8.h"

namespace qsenti::byte_level {
namespace {

struct Maps {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 0x144> to_byte{};
  Maps() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Maps& maps() {
  static const Maps m;
  return m;
}

}  // namespace

char32_t char_of_byte(uint8_t b) { return maps().to_char[b]; }

int byte_of_char(char32_t c) { return c < 0x144 ? maps().to_byte[c] : -1; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) utf8::append(out, char_of_byte(static_cast<uint8_t>(ch)));
  return out;
}

std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const char32_t c = utf8::next(s, i);
    const int b = byte_of_char(c);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(s.data() + start, i - start);
    }
  }
  return out;
}

}  // namespace qsenti::byte_level
