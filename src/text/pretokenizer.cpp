#include "text/pretokenizer.h"

#include "text/unicode.h"
#include "text/utf8.h"

namespace qsenti {

const char* const kQwen3PretokenizerRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

using unicode::kLetter;
using unicode::kNumber;
using unicode::kSpace;

// A cursor over valid UTF-8 that decodes one code point at a time.
struct Cursor {
  std::string_view s;
  // Code point at byte offset i, its flags and the offset after it.
  char32_t cp = 0;
  uint8_t fl = 0;
  size_t end = 0;
  bool at(size_t i) {
    if (i >= s.size()) return false;
    end = i;
    cp = utf8::next(s, end);
    fl = cp < 0x80 ? ascii_flags(cp) : unicode::flags(cp);
    return true;
  }
  static uint8_t ascii_flags(char32_t c) {
    static const auto table = [] {
      struct T {
        uint8_t f[128];
      } t{};
      for (char32_t k = 0; k < 128; ++k) t.f[k] = unicode::flags(k);
      return t;
    }();
    return table.f[c];
  }
};

inline bool is_crlf(char32_t c) { return c == '\r' || c == '\n'; }

// Lower-case ASCII letter that `c` matches case-insensitively among the
// letters used by the contractions, or 0.
inline char fold(char32_t c) {
  if (c == 0x017F) return 's';  // LATIN SMALL LETTER LONG S case-folds to s
  if (c < 0x80) {
    char l = static_cast<char>(c | 0x20);
    if (l == 's' || l == 't' || l == 'r' || l == 'v' || l == 'm' || l == 'l' || l == 'd' ||
        l == 'e')
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? l : 0;
  }
  return 0;
}

// Length of the match at i, trying the alternatives in order.
size_t match_at(std::string_view s, size_t i) {
  Cursor c{s};
  c.at(i);
  const char32_t cp0 = c.cp;
  const uint8_t f0 = c.fl;
  const size_t e0 = c.end;

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (cp0 == '\'' && c.at(e0)) {
    const char a = fold(c.cp);
    const size_t e1 = c.end;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return e1 - i;
    if ((a == 'r' || a == 'v' || a == 'l') && c.at(e1)) {
      const char b = fold(c.cp);
      if ((a == 'l' && b == 'l') || (a != 'l' && b == 'e')) return c.end - i;
    }
  }

  // [^\r\n\p{L}\p{N}]?\p{L}+
  {
    size_t start = e0;  // where \p{L}+ begins
    bool ok = false;
    if (!(f0 & (kLetter | kNumber)) && !is_crlf(cp0)) {
      ok = c.at(e0) && (c.fl & kLetter);
    }
    if (!ok && (f0 & kLetter)) {
      ok = true;
      start = i;
    }
    if (ok) {
      size_t j = start;
      while (c.at(j) && (c.fl & kLetter)) j = c.end;
      return j - i;
    }
  }

  // \p{N}
  if (f0 & kNumber) return e0 - i;

  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  {
    size_t start = SIZE_MAX;
    if (cp0 == ' ') {
      if (c.at(e0) && !(c.fl & (kSpace | kLetter | kNumber))) start = e0;
    } else if (!(f0 & (kSpace | kLetter | kNumber))) {
      start = i;
    }
    if (start != SIZE_MAX) {
      size_t j = start;
      while (c.at(j) && !(c.fl & (kSpace | kLetter | kNumber))) j = c.end;
      while (c.at(j) && is_crlf(c.cp)) j = c.end;
      return j - i;
    }
  }

  // What is left starts with white space (every other code point matched an
  // alternative above).
  // \s*[\r\n]+ : the white-space run up to its last CR or LF.
  // \s+(?!\S)  : the run, less its last code point unless it ends the text.
  // \s+        : the run.
  size_t j = i, last_crlf_end = 0, last_start = i, count = 0;
  while (c.at(j) && (c.fl & kSpace)) {
    last_start = j;
    j = c.end;
    ++count;
    if (is_crlf(c.cp)) last_crlf_end = j;
  }
  if (last_crlf_end != 0) return last_crlf_end - i;
  if (j >= s.size()) return j - i;
  if (count >= 2) return last_start - i;
  if (count == 1) return j - i;
  return e0 - i;  // unreachable for valid input; never loop forever
}

}  // namespace

void pretokenize(std::string_view text, std::vector<std::string_view>& out) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = match_at(text, i);
    out.push_back(text.substr(i, len));
    i += len;
  }
}

}  // namespace qsenti
