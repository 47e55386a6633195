#pragma once
// Method B's prompts: an instruction around the user's text, followed by the
// answer (a label word and an end token), turned into token ids.
//
// Tokenisation rules:
//  - the template's own text (prefix and suffix) is encoded with
//    SpecialTokens::kParse, so "<|im_start|>" in a template is one id;
//  - the user's text is encoded with SpecialTokens::kAsText, so a post that
//    contains "<|im_end|>" cannot close the turn;
//  - the answer (label word + end token) is encoded on its own, so the
//    boundary between prompt and answer is a token boundary: training masks
//    exactly the answer tokens and scoring teacher-forces exactly them.
//  The three pieces are encoded separately and concatenated (the boundaries
//  are token boundaries, as a chat template's special tokens make them).
//
// The end token is <|im_end|> (151645): Qwen3's eos_token and what closes
// every chat turn. Training appends it to the answer and scoring includes it
// in the answer's probability ("the answer is exactly this word"), so the
// two always agree.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace qsenti {

class LabelSet;

constexpr const char* kAnswerEndToken = "<|im_end|>";

// The original instruction; lists the label words when they are not the
// default 正面/负面: "请分析以下微博文本的情感倾向，回答'正面'或'负面'。"
std::string default_instruction(const std::vector<std::string>& label_words);

// 负面/正面 for the binary negative/positive set, the label names otherwise.
std::vector<std::string> default_label_words(const LabelSet& labels);

struct PromptTemplate {
  std::string name;    // "default", "chat", or the file it was read from
  std::string prefix;  // template text before the user's text
  std::string suffix;  // template text after it, up to where the answer starts

  // "default": "<instruction>\n\n文本：{text}\n\n情感：";
  // "chat": Qwen3's chat format with thinking off:
  //   "<|im_start|>user\n<instruction>\n\n文本：{text}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
  // anything else: a UTF-8 file holding {text} exactly once (one trailing
  // newline of the file is dropped, since editors add it). Throws InputError
  // naming the file otherwise.
  static PromptTemplate from_spec(const std::string& spec, const std::vector<std::string>& label_words);
  // From template text with one {text}; `source` names it in messages.
  static PromptTemplate from_text(const std::string& text, const std::string& source);

  std::string render(const std::string& text) const { return prefix + text + suffix; }
};

// A training example: ids of prompt + answer, and HF-style labels (the ids
// on the answer tokens, -100 elsewhere; the loss shifts them).
struct PromptExample {
  std::vector<int32_t> input_ids;
  std::vector<int64_t> labels;
  int64_t prompt_length = 0;
};

// Builds token ids for one template and label-word set; immutable, share freely.
class PromptEncoder {
 public:
  // max_length bounds prompt + longest answer; the user's text is truncated
  // (keeping its start) to fit. Throws Error when the template and answers
  // alone leave no room, or when label words are empty or not distinct.
  PromptEncoder(std::shared_ptr<const Tokenizer> tokenizer, PromptTemplate tmpl,
                std::vector<std::string> label_words, int64_t max_length);

  std::vector<int32_t> prompt_ids(const std::string& text) const;
  // How many of `texts` prompt_ids() cuts to the text budget.
  int64_t count_truncated(const std::vector<std::string>& texts) const;
  // Per label: the label word's ids followed by the end token (what training
  // teaches).
  const std::vector<std::vector<int32_t>>& answer_ids() const { return answers_; }
  // Per label: what prediction scores, the label word's ids alone, so that
  // single-token words (正面, 负面) need no continuation pass. When one word's
  // ids begin another's, all keep the end token, which tells them apart.
  const std::vector<std::vector<int32_t>>& scoring_ids() const { return scoring_; }
  PromptExample example(const std::string& text, int64_t label) const;

  const PromptTemplate& prompt_template() const { return tmpl_; }
  // The template's ids before the text: every prompt starts with them.
  const std::vector<int32_t>& prefix_ids() const { return prefix_ids_; }
  const std::vector<std::string>& label_words() const { return words_; }
  int32_t end_token_id() const { return end_id_; }
  int64_t max_length() const { return max_length_; }
  // Tokens left for the user's text.
  int64_t text_budget() const { return text_budget_; }
  const Tokenizer& tokenizer() const { return *tok_; }

 private:
  std::shared_ptr<const Tokenizer> tok_;
  PromptTemplate tmpl_;
  std::vector<std::string> words_;
  int64_t max_length_;
  std::vector<int32_t> prefix_ids_, suffix_ids_;
  std::vector<std::vector<int32_t>> answers_, scoring_;
  int32_t end_id_ = -1;
  int64_t text_budget_ = 0;
};

}  // namespace qsenti
