#pragma once
// The ids Qwen3's vocabulary gives its two end tokens. Code that has a
// tokenizer asks it (Tokenizer::endoftext_id, token_to_id); these are only
// the defaults for files that leave an id out (config.json,
// generation_config.json) and for models built without a tokenizer.
#include <cstdint>

namespace qsenti {

constexpr int32_t kQwen3EndOfTextId = 151643;  // <|endoftext|>: pad, and the embedding models' last token
constexpr int32_t kQwen3ImEndId = 151645;      // <|im_end|>: the chat models' end of a turn

}  // namespace qsenti
