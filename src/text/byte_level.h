#pragma once
// GPT-2's reversible byte-to-unicode map, used by byte-level BPE: every byte
// becomes one printable character (0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF map
// to themselves, the other 68 bytes to U+0100..U+0143), so vocabulary entries
// are printable strings such as "Ġworld" (= " world").
#include <cstdint>
#include <string>
#include <string_view>

namespace qsenti::byte_level {

// The code point that byte `b` maps to.
char32_t char_of_byte(uint8_t b);

// The byte that code point `c` stands for, or -1 when `c` is not in the map.
int byte_of_char(char32_t c);

// "Hello world" -> "HelloĠworld".
std::string encode(std::string_view bytes);

// Inverse of encode(). A character outside the map (possible only in added
// tokens) is copied as its own UTF-8, as Hugging Face's ByteLevel decoder does.
// `s` must be valid UTF-8.
std::string decode(std::string_view s);

}  // namespace qsenti::byte_level
