// Method B: LoRA instruction tuning. Qwen3 learns to answer a prompt (the
// original Chinese instruction, Qwen3's chat format, or a user template) with
// a label word and <|im_end|>. Unlike the original script, which trained on
// the whole padded prompt and sampled up to 10 tokens per text with a fixed
// confidence of 0.8, the loss covers only the answer tokens and prediction
// reads real label probabilities from one teacher-forced pass
// (methods/label_scoring.h): p(label k) = softmax_k of log p(word_k <|im_end|> | prompt).
//
// Run folder:
//   manifest.json         method "lora", labels, hyperparameters, metrics;
//                         extra: {"template", "template_prefix", "template_suffix",
//                         "label_words", "end_token", "end_token_id", "max_length",
//                         "dtype", "answer_score"}
//   train_options.json    the resolved options (what --resume continues with)
//   adapter/              peft LoRA adapter, task_type CAUSAL_LM
//   history.jsonl, checkpoints/, best/   written by the Trainer
#include <filesystem>
#include <fstream>
#include <iostream>

#include "text/qwen3_tokens.h"
#include "device/device.h"
#include "io/dataset.h"
#include "io/labels.h"
#include "io/split.h"
#include "io/weight_store.h"
#include "methods/classifier.h"
#include "methods/label_scoring.h"
#include "methods/method.h"
#include "dist/process_group.h"
#include "methods/trainer_method.h"
#include "model/loading.h"
#include "model/losses.h"
#include "model/peft_adapter.h"
#include "text/batch.h"
#include "text/prompt_template.h"
#include "text/length_batching.h"
#include "train/train_options.h"
#include "train/trainer.h"
#include "train/training_data.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

// Pads batches of prompts; never read (masked), any id would do.
constexpr int32_t kPadId = kQwen3EndOfTextId;

// Size defaults (size_defaults "lora": batch 16/8/4, lr 2e-4/1e-4/5e-5, LoRA
// r/alpha 16/32, 32/64, 64/128 for 0.6B/4B/8B; a model of no known size gets
// the 0.6B values), 3 epochs, bf16 autocast for real sizes.
TrainOptions resolve(TrainOptions o, const Qwen3Config& config) {
  if (o.model_size.empty()) o.model_size = infer_model_size(config.hidden_size);
  const bool known = !o.model_size.empty();
  SizeDefaults d = size_defaults(known ? o.model_size : "0.6B", "lora");
  if (o.batch_size <= 0) o.batch_size = d.batch_size;
  if (o.lr <= 0) o.lr = d.lr;
  if (o.epochs <= 0) o.epochs = 3;
  if (o.lora_r <= 0) o.lora_r = d.lora_r;
  if (o.lora_alpha <= 0) o.lora_alpha = d.lora_alpha;
  if (o.dtype == "auto") o.dtype = known ? "bf16" : "fp32";
  return o;
}

std::vector<std::string> resolve_label_words(const std::vector<std::string>& given, const LabelSet& labels) {
  if (given.empty()) return default_label_words(labels);
  if (given.size() != labels.size()) {
    std::string names;
    for (const auto& n : labels.names()) names += (names.empty() ? "" : ",") + n;
    throw Error("--label-words gives " + std::to_string(given.size()) + " words for " + std::to_string(labels.size()) +
                    " labels (" + names + "); give one per label, in that order",
                ExitCode::kUsage);
  }
  return given;
}

// Label probabilities [N, K] for prompts, in batches of similar length.
torch::Tensor predict_prompts(Qwen3& model, const PromptEncoder& enc, const std::vector<std::string>& texts,
                              int64_t batch_size) {
  std::vector<std::vector<int32_t>> prompts;
  prompts.reserve(texts.size());
  for (const auto& t : texts) prompts.push_back(enc.prompt_ids(t));
  std::vector<int64_t> lengths;
  for (const auto& p : prompts) lengths.push_back(static_cast<int64_t>(p.size()));
  const int64_t K = static_cast<int64_t>(enc.scoring_ids().size());
  torch::Tensor probs = torch::zeros({static_cast<int64_t>(texts.size()), K}, torch::kFloat32);
  // The template's opening runs once for all batches (the weights do not
  // change during this call).
  const PromptPrefix prefix = encode_prompt_prefix(model, enc.prefix_ids());
  for (const auto& batch : sorted_batches(lengths, std::max<int64_t>(1, batch_size))) {
    std::vector<std::vector<int32_t>> seqs;
    for (size_t i : batch) seqs.push_back(prompts[i]);
    torch::Tensor p = label_probabilities(score_answers(model, seqs, enc.scoring_ids(), kPadId, &prefix));
    for (size_t j = 0; j < batch.size(); ++j) probs[static_cast<int64_t>(batch[j])].copy_(p[static_cast<int64_t>(j)]);
  }
  return probs;
}

class LoraTask : public TrainingTask {
 public:
  LoraTask(Qwen3 model, std::shared_ptr<const PromptEncoder> enc, bool checkpoint_layers,
           std::vector<PromptExample> train, std::vector<std::string> valid_texts, std::vector<int64_t> valid_labels,
           std::vector<std::string> label_names, int64_t eval_batch)
      : model_(std::move(model)),
        enc_(std::move(enc)),
        checkpoint_layers_(checkpoint_layers),
        train_(std::move(train)),
        valid_texts_(std::move(valid_texts)),
        valid_labels_(std::move(valid_labels)),
        label_names_(std::move(label_names)),
        eval_batch_(eval_batch) {}

  std::vector<TrainableParameter> trainable_parameters() override {
    std::vector<TrainableParameter> out;
    for (auto& item : model_->named_parameters(true)) {
      const bool is_lora = item.key().find("lora_") != std::string::npos;
      item.value().set_requires_grad(is_lora);
      if (is_lora) out.push_back({item.key(), item.value(), true});
    }
    return out;
  }
  std::vector<int64_t> train_lengths() override {
    std::vector<int64_t> l;
    for (const auto& e : train_) l.push_back(static_cast<int64_t>(e.input_ids.size()));
    return l;
  }
  BatchLoss loss(const std::vector<size_t>& indices) override {
    model_->train();
    std::vector<std::vector<int32_t>> seqs;
    int64_t tokens = 0;
    for (size_t i : indices) {
      seqs.push_back(train_[i].input_ids);
      tokens += static_cast<int64_t>(train_[i].input_ids.size());
    }
    TokenBatch tb = pad_batch(seqs, kPadId, PadSide::kRight);
    torch::Tensor labels = torch::full(tb.input_ids.sizes(), kIgnoreIndex, torch::kInt64);
    for (size_t r = 0; r < indices.size(); ++r) {
      const auto& l = train_[indices[r]].labels;
      labels[static_cast<int64_t>(r)].slice(0, 0, static_cast<int64_t>(l.size())).copy_(torch::tensor(l, torch::kInt64));
    }
    ForwardArgs a;
    a.input_ids = tb.input_ids;
    a.attention_mask = tb.attention_mask;
    a.checkpoint_layers = checkpoint_layers_;
    torch::Tensor hidden = model_->forward(a).last_hidden_state;
    return {answer_lm_loss(model_, hidden, to_device(labels, hidden.device())), tokens};
  }
  bool has_validation() const override { return !valid_texts_.empty(); }
  Metrics validate() override { return validation_metrics(validation_probabilities(0, validation_size())); }
  // answer_lm_loss averages over the answer tokens (each predicted from the
  // position before it).
  double loss_weight(const std::vector<size_t>& indices) override {
    double n = 0;
    for (size_t i : indices) {
      const auto& l = train_[i].labels;
      for (size_t t = 1; t < l.size(); ++t) n += l[t] != kIgnoreIndex ? 1 : 0;
    }
    return n;
  }
  int64_t validation_size() const override { return static_cast<int64_t>(valid_texts_.size()); }
  torch::Tensor validation_probabilities(int64_t begin, int64_t end) override {
    return probabilities({valid_texts_.begin() + begin, valid_texts_.begin() + end});
  }
  Metrics validation_metrics(const torch::Tensor& probabilities) override {
    return metrics_of_probabilities(valid_labels_, probabilities, label_names_);
  }
  Metrics evaluate(const std::vector<std::string>& texts, const std::vector<int64_t>& labels) {
    return metrics_of_probabilities(labels, probabilities(texts), label_names_);
  }
  // Label probabilities (fp64) of texts, in eval mode; the mode is restored.
  torch::Tensor probabilities(const std::vector<std::string>& texts) {
    if (texts.empty()) return torch::zeros({0, static_cast<int64_t>(label_names_.size())}, torch::kFloat64);
    const bool was_training = model_->is_training();
    model_->eval();
    torch::Tensor probs = predict_prompts(model_, *enc_, texts, eval_batch_).to(torch::kFloat64).contiguous();
    if (was_training) model_->train();
    return probs;
  }

 private:
  Qwen3 model_;
  std::shared_ptr<const PromptEncoder> enc_;
  bool checkpoint_layers_;
  std::vector<PromptExample> train_;
  std::vector<std::string> valid_texts_;
  std::vector<int64_t> valid_labels_;
  std::vector<std::string> label_names_;
  int64_t eval_batch_;
};

// The frozen base in the compute dtype (bf16 stays memory-mapped), fp32 adapters.
Qwen3 build_model(const TrainOptions& o) {
  LoadOptions lo;
  lo.dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  lo.device = resolve_device(o.device);
  torch::manual_seed(o.seed);
  Qwen3 model = load_qwen3(o.model, lo);
  add_lora_adapters(model, o);
  return model;
}

class LoraClassifier : public TextClassifier {
 public:
  LoraClassifier(RunManifest m, Qwen3 model, std::shared_ptr<const PromptEncoder> enc, int64_t batch_size)
      : m_(std::move(m)), model_(std::move(model)), enc_(std::move(enc)), batch_size_(batch_size) {
    model_->eval();
  }
  const RunManifest& manifest() const override { return m_; }
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    truncated_ += enc_->count_truncated(texts);
    return predict_prompts(model_, *enc_, texts, batch_size_);
  }
  int64_t truncated_texts() const override { return truncated_; }
  int64_t max_length() const override { return enc_->max_length(); }

 private:
  int64_t truncated_ = 0;
  RunManifest m_;
  Qwen3 model_;
  std::shared_ptr<const PromptEncoder> enc_;
  int64_t batch_size_;
};

}  // namespace

std::string train_lora_method(const TrainOptions& given) {
  TrainOptions o = given;
  std::string run_dir = o.out;
  if (!o.resume.empty()) {
    run_dir = o.resume;
    o = options_for_resume(given, "lora");
  }
  if (o.model.empty()) throw Error("--model is required for --method lora", ExitCode::kUsage);
  const Qwen3Config config = Qwen3Config::load(o.model);
  if (o.resume.empty()) o = resolve(o, config);
  if (run_dir.empty()) run_dir = "models/lora-" + (o.model_size.empty() ? std::string("custom") : o.model_size);

  // Everything that can fail on the user's input fails before the run folder exists.
  const TrainingData data = load_training_data(o);
  const std::vector<std::string> words = resolve_label_words(o.label_words, data.labels());
  auto tok = Tokenizer::for_model(o.model);
  auto enc = std::make_shared<const PromptEncoder>(tok, PromptTemplate::from_spec(o.prompt_template, words), words,
                                                   o.max_length);
  std::vector<PromptExample> train;
  train.reserve(data.train.texts.size());
  for (size_t i = 0; i < data.train.texts.size(); ++i) train.push_back(enc->example(data.train.texts[i], data.train.labels[i]));

  fs::create_directories(run_dir);
  if (o.resume.empty() && dist::is_main_process())
    write_text_atomically((fs::path(run_dir) / "train_options.json").string(), train_options_to_json(o).dump(2) + "\n");
  const auto label_names = data.labels().names();
  TruncationCounts truncated;
  truncated.max_length = o.max_length;
  truncated.train = enc->count_truncated(data.train.texts);
  truncated.valid = enc->count_truncated(data.valid.texts);
  truncated.test = enc->count_truncated(data.test.texts);
  if (!o.quiet) {
    std::cerr << "lora (r=" << o.lora_r << ", alpha=" << o.lora_alpha << ", " << o.dtype << ", template "
              << enc->prompt_template().name << ", label words";
    for (const auto& w : words) std::cerr << " " << w;
    std::cerr << "): " << train.size() << " training and " << data.valid.texts.size() << " validation texts"
              << describe_truncation(truncated) << "\n";
  }

  Qwen3 model = build_model(o);
  LoraTask task(model, enc, o.grad_checkpointing, std::move(train), data.valid.texts, data.valid.labels, label_names,
                std::max<int64_t>(16, o.batch_size));
  RunManifest m = train_and_describe(task, o, run_dir, "lora", label_names);
  m.metrics["truncated"] = to_json(truncated);
  if (!dist::is_main_process()) return run_dir;  // rank 0 tests and writes the run
  if (!data.test.texts.empty()) {
    compat::Autocast autocast(model->device().type(), o.dtype == "bf16");
    Metrics t = task.evaluate(data.test.texts, data.test.labels);
    m.metrics["test"] = to_json(t);
    if (!o.quiet) std::cerr << "test set:\n" << format_report(t);
  }
  const PromptTemplate& pt = enc->prompt_template();
  m.extra = {{"template", pt.name},
             {"template_prefix", pt.prefix},
             {"template_suffix", pt.suffix},
             {"label_words", words},
             {"end_token", kAnswerEndToken},
             {"end_token_id", enc->end_token_id()},
             {"max_length", o.max_length},
             {"dtype", o.dtype},
             {"answer_score", "softmax over labels of log p(label word | prompt) (+ end token when one word begins another)"}};
  write_adapter_folder(model, o, "CAUSAL_LM", {}, (fs::path(run_dir) / "adapter").string());
  m.created = utc_now_iso8601();
  m.save(run_dir);
  finish_run_folder(run_dir, o);
  return run_dir;
}

namespace {

std::unique_ptr<TextClassifier> load_lora_classifier(const std::string& run_dir, const RunManifest& m,
                                                    const PredictOptions& options) {
  const std::string manifest_path = (fs::path(run_dir) / RunManifest::kFileName).string();
  std::string dtype = options.dtype;
  if (dtype == "auto") dtype = m.extra.value("dtype", std::string("fp32"));
  const int64_t max_length = options.max_length > 0 ? options.max_length : m.extra.value("max_length", int64_t{256});
  PromptTemplate pt;
  std::vector<std::string> words;
  RunManifest run = m;
  if (m.extra.value("label_words_default", false)) {
    // A peft CAUSAL_LM adapter (methods/hf_run.h): qsenti's default prompt,
    // and the label words given, which then name the labels.
    words = options.label_words.empty() ? default_label_words(LabelSet::binary()) : options.label_words;
    if (!options.label_words.empty()) run.labels = words;
    if (words.size() < 2) throw Error("--label-words: give at least two words", ExitCode::kUsage);
    pt = PromptTemplate::from_spec("default", words);
  } else {
    try {
      pt.name = m.extra.at("template").get<std::string>();
      pt.prefix = m.extra.at("template_prefix").get<std::string>();
      pt.suffix = m.extra.at("template_suffix").get<std::string>();
      words = m.extra.at("label_words").get<std::vector<std::string>>();
    } catch (const std::exception& e) {
      throw InputError(manifest_path + ": extra: " + e.what());
    }
  }
  if (words.size() != run.labels.size())
    throw InputError(manifest_path + ": " + std::to_string(words.size()) + " label words for " +
                     std::to_string(run.labels.size()) + " labels");
  const std::string base = run_base_model(run_dir, m, options);
  LoadOptions lo;
  lo.dtype = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  lo.device = resolve_device(options.device);
  Qwen3 model = load_qwen3(base, lo);
  load_peft_adapter(model, run_adapter_dir(run_dir, m));
  model->merge_lora_for_inference();
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  auto enc = std::make_shared<const PromptEncoder>(Tokenizer::for_model(base), pt, words, max_length);
  if (enc->end_token_id() != m.extra.value("end_token_id", enc->end_token_id()))
    throw InputError(manifest_path + ": the run's end token differs from this tokenizer's " + kAnswerEndToken);
  return std::make_unique<LoraClassifier>(run, model, enc, options.batch_size);
}


}  // namespace

const Method& lora_method() {
  static const Method m = [] {
    Method d;
    d.name = "lora";
    d.letter = "B";
    d.summary = "LoRA instruction tuning with label words";
    d.options = trainer_options();
    d.options.insert(d.options.end(), backbone_options().begin(), backbone_options().end());
    d.options.insert(d.options.end(), {"--template", "--label-words"});
    d.train = train_lora_method;
    d.load = load_lora_classifier;
    return d;
  }();
  return m;
}

}  // namespace qsenti
