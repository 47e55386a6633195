#include "text/prompt_template.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "io/labels.h"
#include "util/error.h"

namespace qsenti {

namespace {

const std::vector<std::string> kDefaultWords{"负面", "正面"};

std::string instruction_body(const std::vector<std::string>& label_words) {
  return default_instruction(label_words) + "\n\n文本：";
}

}  // namespace

std::string default_instruction(const std::vector<std::string>& label_words) {
  // The original lists 正面 first; other word sets are listed in label order.
  std::vector<std::string> words = label_words;
  if (words.empty() || words == kDefaultWords) words = {"正面", "负面"};
  std::string list;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) list += (i + 1 == words.size()) ? "或" : "、";
    list += "'" + words[i] + "'";
  }
  return "请分析以下微博文本的情感倾向，回答" + list + "。";
}

std::vector<std::string> default_label_words(const LabelSet& labels) {
  std::vector<std::string> words;
  for (size_t i = 0; i < labels.size(); ++i) words.push_back(labels.display_name(static_cast<int64_t>(i)));
  return words;
}

PromptTemplate PromptTemplate::from_text(const std::string& text, const std::string& source) {
  static const std::string kPlaceholder = "{text}";
  const size_t at = text.find(kPlaceholder);
  if (at == std::string::npos)
    throw InputError(source + ": the prompt template has no {text} placeholder");
  if (text.find(kPlaceholder, at + 1) != std::string::npos)
    throw InputError(source + ": the prompt template has {text} more than once");
  PromptTemplate t;
  t.name = source;
  t.prefix = text.substr(0, at);
  t.suffix = text.substr(at + kPlaceholder.size());
  return t;
}

PromptTemplate PromptTemplate::from_spec(const std::string& spec, const std::vector<std::string>& label_words) {
  if (spec.empty() || spec == "default") {
    PromptTemplate t;
    t.name = "default";
    t.prefix = instruction_body(label_words);
    t.suffix = "\n\n情感：";
    return t;
  }
  if (spec == "chat") {
    PromptTemplate t;
    t.name = "chat";
    t.prefix = "<|im_start|>user\n" + instruction_body(label_words);
    // The empty think block is what Qwen3's chat template writes when
    // thinking is switched off.
    t.suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    return t;
  }
  std::ifstream in(spec, std::ios::binary);
  if (!in) throw InputError(spec + ": cannot read the prompt template (give default, chat, or a file with {text})");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0) text.resize(text.size() - 2);
  else if (!text.empty() && text.back() == '\n') text.pop_back();
  return from_text(text, spec);
}

PromptEncoder::PromptEncoder(std::shared_ptr<const Tokenizer> tokenizer, PromptTemplate tmpl,
                             std::vector<std::string> label_words, int64_t max_length)
    : tok_(std::move(tokenizer)), tmpl_(std::move(tmpl)), words_(std::move(label_words)), max_length_(max_length) {
  if (words_.size() < 2) throw Error("method lora needs at least two label words", ExitCode::kUsage);
  end_id_ = tok_->token_to_id(kAnswerEndToken);
  if (end_id_ < 0) throw InputError(tok_->path() + ": the tokenizer has no " + std::string(kAnswerEndToken) + " token");
  prefix_ids_ = tok_->encode(tmpl_.prefix, SpecialTokens::kParse);
  suffix_ids_ = tok_->encode(tmpl_.suffix, SpecialTokens::kParse);
  size_t longest = 0;
  for (const auto& w : words_) {
    if (w.empty()) throw Error("label words must not be empty", ExitCode::kUsage);
    std::vector<int32_t> ids = tok_->encode(w, SpecialTokens::kAsText);
    ids.push_back(end_id_);
    longest = std::max(longest, ids.size());
    if (std::find(answers_.begin(), answers_.end(), ids) != answers_.end())
      throw Error("label word \"" + w + "\" is given twice", ExitCode::kUsage);
    answers_.push_back(std::move(ids));
  }
  bool ambiguous = false;
  for (const auto& a : answers_)
    for (const auto& b : answers_)
      if (&a != &b && a.size() <= b.size() && std::equal(a.begin(), a.end() - 1, b.begin())) ambiguous = true;
  for (const auto& a : answers_) scoring_.emplace_back(a.begin(), ambiguous ? a.end() : a.end() - 1);
  text_budget_ = max_length_ - static_cast<int64_t>(prefix_ids_.size() + suffix_ids_.size() + longest);
  if (text_budget_ < 1)
    throw Error("--max-length " + std::to_string(max_length_) + " is too short: the template \"" + tmpl_.name +
                    "\" and the longest answer take " + std::to_string(max_length_ - text_budget_) +
                    " tokens, leaving no room for the text",
                ExitCode::kUsage);
}

std::vector<int32_t> PromptEncoder::prompt_ids(const std::string& text) const {
  std::vector<int32_t> ids;
  ids.reserve(prefix_ids_.size() + suffix_ids_.size() + 64);
  ids.insert(ids.end(), prefix_ids_.begin(), prefix_ids_.end());
  const size_t start = ids.size();
  tok_->encode_into(text, SpecialTokens::kAsText, ids);
  if (static_cast<int64_t>(ids.size() - start) > text_budget_) ids.resize(start + text_budget_);
  ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

int64_t PromptEncoder::count_truncated(const std::vector<std::string>& texts) const {
  int64_t n = 0;
  for (const auto& ids : tok_->encode_batch(texts, SpecialTokens::kAsText, text_budget_ + 1))
    n += static_cast<int64_t>(ids.size()) > text_budget_;
  return n;
}

PromptExample PromptEncoder::example(const std::string& text, int64_t label) const {
  if (label < 0 || label >= static_cast<int64_t>(answers_.size()))
    throw Error("label " + std::to_string(label) + " has no label word");
  PromptExample ex;
  ex.input_ids = prompt_ids(text);
  ex.prompt_length = static_cast<int64_t>(ex.input_ids.size());
  ex.labels.assign(ex.input_ids.size(), -100);
  for (int32_t id : answers_[label]) {
    ex.input_ids.push_back(id);
    ex.labels.push_back(id);
  }
  return ex;
}

}  // namespace qsenti
