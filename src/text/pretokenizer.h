#pragma once
// Qwen3's (and GPT-4o-style) pre-tokeniser: splits text into the pieces that
// byte-level BPE then encodes one by one. It reproduces, piece for piece,
// Hugging Face's Split pre-tokeniser (behaviour "Isolated") with the regex
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// as Oniguruma runs it (leftmost alternative wins; \s is Unicode White_Space;
// case-insensitive 's also matches U+017F LONG S), but scans code points by
// hand instead of running a regex engine.
#include <string_view>
#include <vector>

namespace qsenti {

// The regex this pre-tokeniser implements, as it appears in tokenizer.json.
extern const char* const kQwen3PretokenizerRegex;

// Appends the pieces of `text` (valid UTF-8) to `out`, in order; they are
// views into `text` and together cover it exactly.
void pretokenize(std::string_view text, std::vector<std::string_view>& out);

}  // namespace qsenti
