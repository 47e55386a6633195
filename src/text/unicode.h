#pragma once
// Unicode character properties and NFC normalisation (both from ICU), in the
// form the tokenizer needs: one cheap lookup per code point.
#include <cstdint>
#include <string>
#include <string_view>

namespace qsenti::unicode {

enum CharFlag : uint8_t {
  kLetter = 1,     // general category L* (\p{L})
  kNumber = 2,     // general category N* (\p{N})
  kSpace = 4,      // White_Space property (\s of the Oniguruma/HF regex)
  kNfcInert = 8,   // NFC_Quick_Check=Yes and combining class 0: a text made
                   // only of such characters is already in NFC
};

// Flags of `cp` (0 for values above U+10FFFF). Thread-safe; the first lookup
// in each block of 256 code points asks ICU, later ones read a table.
uint8_t flags(char32_t cp);

// NFC of valid UTF-8 `s`. Returns false and leaves `out` untouched when `s`
// is already in NFC (the common case, decided without calling ICU's
// normaliser); otherwise writes the normalised text to `out`.
bool nfc_if_needed(std::string_view s, std::string& out);

// NFC of valid UTF-8 `s`, always as a new string.
std::string nfc(std::string_view s);

}  // namespace qsenti::unicode
