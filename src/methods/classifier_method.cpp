// Method C: Qwen3ForSequenceClassification (a score head on the last real
// token), trained with LoRA (default) or fully (--full), on the shared Trainer.
//
// Run folder:
//   manifest.json         method "classifier", labels, hyperparameters, metrics;
//                         extra: {"mode": "lora"|"full", "dtype", "recipe", "max_length",
//                         "pad_token_id"} (recipe: SeqClsEncoding; none = runs before 0.2)
//   train_options.json    the resolved options (what --resume continues with)
//   adapter/              LoRA runs: peft adapter, task SEQ_CLS, modules_to_save [score]
//   model/                --full runs: a transformers Qwen3ForSequenceClassification folder
//   history.jsonl, checkpoints/, best/   written by the Trainer
#include <filesystem>
#include <fstream>
#include <iostream>

#include "text/qwen3_tokens.h"
#include "device/device.h"
#include "io/dataset.h"
#include "io/split.h"
#include "io/weight_store.h"
#include "methods/classifier.h"
#include "methods/method.h"
#include "methods/seqcls_model.h"
#include "dist/process_group.h"
#include "methods/trainer_method.h"
#include "model/loading.h"
#include "model/losses.h"
#include "model/peft_adapter.h"
#include "text/batch.h"
#include "train/train_options.h"
#include "train/trainer.h"
#include "train/training_data.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

// Fills in the size-dependent defaults. The rule (also in `train --help`):
// LoRA uses size_defaults (batch 16/8/4, lr 2e-4/1e-4/5e-5, r/alpha
// 16/32, 32/64, 64/128 for 0.6B/4B/8B); --full on a known size uses lr 2e-5
// and the same batch; a model of no known size (a small model trained from
// scratch) uses batch 32 and lr 1e-3 (full) or 2e-4 (LoRA). Epochs default to 3.
TrainOptions resolve(TrainOptions o, const Qwen3Config& config) {
  if (o.model_size.empty()) o.model_size = infer_model_size(config.hidden_size);
  const bool known = !o.model_size.empty();
  SizeDefaults d = size_defaults(known ? o.model_size : "0.6B", "classifier");
  if (o.batch_size <= 0) o.batch_size = known ? d.batch_size : 32;
  if (o.lr <= 0) o.lr = o.full ? (known ? 2e-5 : 1e-3) : d.lr;
  if (o.epochs <= 0) o.epochs = 3;
  if (o.lora_r <= 0) o.lora_r = d.lora_r;
  if (o.lora_alpha <= 0) o.lora_alpha = d.lora_alpha;
  if (o.dtype == "auto") o.dtype = known ? "bf16" : "fp32";
  if (o.max_length < 1) throw Error("--max-length must be at least 1", ExitCode::kUsage);
  return o;
}

class SeqClsTask : public TrainingTask {
 public:
  SeqClsTask(Qwen3 model, SeqClsEncoding encoding, bool full, bool checkpoint_layers,
             std::vector<std::vector<int32_t>> train_ids,
             std::vector<int64_t> train_labels, std::vector<std::vector<int32_t>> valid_ids,
             std::vector<int64_t> valid_labels, std::vector<std::string> label_names, int64_t eval_batch)
      : model_(std::move(model)),
        encoding_(encoding),
        full_(full),
        checkpoint_layers_(checkpoint_layers),
        train_ids_(std::move(train_ids)),
        train_labels_(std::move(train_labels)),
        valid_ids_(std::move(valid_ids)),
        valid_labels_(std::move(valid_labels)),
        label_names_(std::move(label_names)),
        eval_batch_(eval_batch) {}

  // --class-weights auto: a weighted cross-entropy (a weighted mean, as
  // PyTorch's: the distributed share is then the examples' summed weight).
  void set_class_weights(torch::Tensor w) {
    class_weights_ = std::move(w);
    torch::Tensor c = class_weights_.to(torch::kCPU, torch::kFloat64).contiguous();
    weight_of_class_.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());  // no tensor op per example
  }
  double loss_weight(const std::vector<size_t>& indices) override {
    if (weight_of_class_.empty()) return static_cast<double>(indices.size());
    double s = 0;
    for (size_t i : indices) s += weight_of_class_[static_cast<size_t>(train_labels_[i])];
    return s;
  }

  std::vector<TrainableParameter> trainable_parameters() override {
    return seqcls_trainable_parameters(model_, full_);
  }
  std::vector<int64_t> train_lengths() override {
    std::vector<int64_t> l;
    for (const auto& s : train_ids_) l.push_back(static_cast<int64_t>(s.size()));
    return l;
  }
  BatchLoss loss(const std::vector<size_t>& indices) override {
    model_->train();
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> labels;
    int64_t tokens = 0;
    for (size_t i : indices) {
      seqs.push_back(train_ids_[i]);
      labels.push_back(train_labels_[i]);
      tokens += static_cast<int64_t>(train_ids_[i].size());
    }
    auto [input_ids, mask] = encoding_.pad(seqs);
    torch::Tensor logits =
        seqcls_logits(model_, input_ids, mask, encoding_.pool_index(input_ids, mask), checkpoint_layers_);
    torch::Tensor target = to_device(torch::tensor(labels, torch::kInt64), logits.device());
    if (class_weights_.defined())
      return {torch::nn::functional::cross_entropy(
                  logits.to(torch::kFloat32), target,
                  torch::nn::functional::CrossEntropyFuncOptions().weight(class_weights_.to(logits.device()))),
              tokens};
    return {torch::nn::functional::cross_entropy(logits, target), tokens};
  }
  bool has_validation() const override { return !valid_ids_.empty(); }
  Metrics validate() override { return validation_metrics(validation_probabilities(0, validation_size())); }
  int64_t validation_size() const override { return static_cast<int64_t>(valid_ids_.size()); }
  torch::Tensor validation_probabilities(int64_t begin, int64_t end) override {
    return probabilities({valid_ids_.begin() + begin, valid_ids_.begin() + end});
  }
  Metrics validation_metrics(const torch::Tensor& probabilities) override {
    return metrics_of_probabilities(valid_labels_, probabilities, label_names_);
  }
  Metrics evaluate(const std::vector<std::vector<int32_t>>& ids, const std::vector<int64_t>& labels) {
    return metrics_of_probabilities(labels, probabilities(ids), label_names_);
  }
  // Class probabilities (fp64) of encoded texts; the model is left in train mode.
  torch::Tensor probabilities(const std::vector<std::vector<int32_t>>& ids) {
    if (ids.empty()) return torch::zeros({0, static_cast<int64_t>(label_names_.size())}, torch::kFloat64);
    torch::Tensor probs =
        seqcls_predict(model_, ids, encoding_, eval_batch_, compat::autocast_enabled(model_->device().type()));
    model_->train();
    return probs.to(torch::kFloat64);
  }

  Qwen3& model() { return model_; }

 private:
  Qwen3 model_;
  SeqClsEncoding encoding_;
  bool full_, checkpoint_layers_;
  std::vector<std::vector<int32_t>> train_ids_;
  std::vector<int64_t> train_labels_;
  std::vector<std::vector<int32_t>> valid_ids_;
  std::vector<int64_t> valid_labels_;
  std::vector<std::string> label_names_;
  int64_t eval_batch_;
  torch::Tensor class_weights_;  // undefined: plain cross-entropy
  std::vector<double> weight_of_class_;  // the same, on the host
};

void write_full_model_folder(Qwen3& model, const std::string& dir, const std::vector<std::string>& labels,
                             int32_t pad_id, torch::Dtype dtype) {
  const std::string tmp = dir + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  model->config.id2label = labels;
  model->config.pad_token_id = pad_id;
  save_qwen3(model, tmp, dtype);
  replace_directory(tmp, dir);
}

class SeqClsClassifier : public TextClassifier {
 public:
  SeqClsClassifier(RunManifest m, Qwen3 model, std::shared_ptr<const Tokenizer> tok, SeqClsEncoding encoding,
                   int64_t batch_size, bool bf16)
      : m_(std::move(m)), model_(std::move(model)), tok_(std::move(tok)), encoding_(encoding),
        batch_size_(batch_size), bf16_(bf16) {
    model_->eval();
  }
  const RunManifest& manifest() const override { return m_; }
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    truncated_ += seqcls_count_truncated(*tok_, texts, encoding_);
    return seqcls_predict(model_, seqcls_encode(*tok_, texts, encoding_), encoding_, batch_size_, bf16_);
  }
  int64_t truncated_texts() const override { return truncated_; }
  int64_t max_length() const override { return encoding_.max_length; }

 private:
  int64_t truncated_ = 0;
  RunManifest m_;
  Qwen3 model_;
  std::shared_ptr<const Tokenizer> tok_;
  SeqClsEncoding encoding_;
  int64_t batch_size_;
  bool bf16_;
};

}  // namespace

std::string train_classifier_method(const TrainOptions& given) {
  TrainOptions o = given;
  std::string run_dir = o.out;
  if (!o.resume.empty()) {
    run_dir = o.resume;
    o = options_for_resume(given, "classifier");
  }
  if (o.model.empty()) throw Error("--model is required for --method classifier");
  const Qwen3Config config = Qwen3Config::load(o.model);
  if (o.resume.empty()) o = resolve(o, config);
  if (run_dir.empty()) run_dir = "models/classifier-" + (o.model_size.empty() ? std::string("custom") : o.model_size);
  fs::create_directories(run_dir);
  if (o.resume.empty() && dist::is_main_process())
    write_text_atomically((fs::path(run_dir) / "train_options.json").string(), train_options_to_json(o).dump(2) + "\n");

  const TrainingData data = load_training_data(o);
  auto tok = Tokenizer::for_model(o.model);
  SeqClsEncoding enc;
  enc.max_length = o.max_length;
  enc.pad_id = static_cast<int32_t>(config.pad_token_id.value_or(tok->endoftext_id() >= 0 ? tok->endoftext_id() : kQwen3EndOfTextId));
  auto train_ids = seqcls_encode(*tok, data.train.texts, enc);
  auto valid_ids = seqcls_encode(*tok, data.valid.texts, enc);
  const auto label_names = data.labels().names();
  TruncationCounts truncated;
  truncated.max_length = o.max_length;
  truncated.train = seqcls_count_truncated(*tok, data.train.texts, enc);
  truncated.valid = seqcls_count_truncated(*tok, data.valid.texts, enc);
  truncated.test = seqcls_count_truncated(*tok, data.test.texts, enc);
  if (!o.quiet)
    std::cerr << "classifier (" << (o.full ? "full" : "LoRA r=" + std::to_string(o.lora_r)) << ", " << o.dtype
              << "): " << train_ids.size() << " training and " << valid_ids.size() << " validation texts, "
              << label_names.size() << " labels" << describe_truncation(truncated) << "\n";

  Qwen3 model = build_seqcls_model(o, static_cast<int64_t>(label_names.size()));
  SeqClsTask task(model, enc, o.full, o.grad_checkpointing, std::move(train_ids), data.train.labels, std::move(valid_ids),
                  data.valid.labels, label_names, std::max<int64_t>(16, o.batch_size));
  if (o.class_weights == "auto") {
    torch::Tensor w = balanced_class_weights(data.train.labels, static_cast<int64_t>(label_names.size()));
    task.set_class_weights(w);
    if (!o.quiet) {
      std::cerr << "class weights (auto):";
      for (size_t c = 0; c < label_names.size(); ++c)
        std::cerr << " " << label_names[c] << " " << w[static_cast<int64_t>(c)].item<float>();
      std::cerr << "\n";
    }
  }
  RunManifest m = train_and_describe(task, o, run_dir, "classifier", label_names);
  m.metrics["truncated"] = to_json(truncated);
  if (!dist::is_main_process()) return run_dir;  // rank 0 tests and writes the run
  if (!data.test.texts.empty()) {
    compat::Autocast autocast(model->device().type(), o.dtype == "bf16");
    Metrics t = task.evaluate(seqcls_encode(*tok, data.test.texts, enc), data.test.labels);
    m.metrics["test"] = to_json(t);
    if (!o.quiet) std::cerr << "test set:\n" << format_report(t);
  }
  m.extra = {{"mode", o.full ? "full" : "lora"}, {"dtype", o.dtype}};
  enc.to_manifest(m.extra);
  if (o.full) write_full_model_folder(model, (fs::path(run_dir) / "model").string(), label_names, enc.pad_id,
                                      o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32);
  else write_adapter_folder(model, o, "SEQ_CLS", {"score"}, (fs::path(run_dir) / "adapter").string());
  m.created = utc_now_iso8601();
  m.save(run_dir);
  finish_run_folder(run_dir, o);
  return run_dir;
}

namespace {

std::unique_ptr<TextClassifier> load_seqcls_classifier(const std::string& run_dir, const RunManifest& m,
                                                      const PredictOptions& options) {
  const std::string mode = m.extra.value("mode", "lora");
  std::string dtype = options.dtype;
  if (dtype == "auto") dtype = m.extra.value("dtype", std::string("fp32"));
  const bool bf16 = dtype == "bf16";
  SeqClsEncoding enc;
  try {
    enc = SeqClsEncoding::from_manifest(m.extra, 256);
  } catch (const InputError& e) {
    throw InputError(run_dir + "/" + e.what());
  }
  if (options.max_length > 0) enc.max_length = options.max_length;
  LoadOptions lo;
  lo.dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  lo.score_head = true;
  lo.num_labels = static_cast<int64_t>(m.labels.size());
  lo.device = resolve_device(options.device);
  Qwen3 model{nullptr};
  std::string tokenizer_dir;
  if (mode == "full") {
    tokenizer_dir = run_model_dir(run_dir, m);
    model = load_qwen3(tokenizer_dir, lo);
  } else {
    tokenizer_dir = run_base_model(run_dir, m, options);
    model = load_qwen3(tokenizer_dir, lo);
    load_peft_adapter(model, run_adapter_dir(run_dir, m));
    model->score->to(lo.dtype);
    model->merge_lora_for_inference();
  }
  if (model->config.num_labels != static_cast<int64_t>(m.labels.size()))
    throw InputError(run_dir + ": the model has " + std::to_string(model->config.num_labels) + " labels, manifest.json " +
                     std::to_string(m.labels.size()));
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  return std::make_unique<SeqClsClassifier>(m, model, Tokenizer::for_model(tokenizer_dir), enc,
                                            options.batch_size, bf16);
}


}  // namespace

const Method& classifier_method() {
  static const Method m = [] {
    Method d;
    d.name = "classifier";
    d.letter = "C";
    d.summary = "score head on Qwen3, LoRA or --full";
    d.options = trainer_options();
    d.options.insert(d.options.end(), backbone_options().begin(), backbone_options().end());
    d.options.insert(d.options.end(), {"--full", "--class-weights"});
    d.train = train_classifier_method;
    d.load = load_seqcls_classifier;
    return d;
  }();
  return m;
}

}  // namespace qsenti
