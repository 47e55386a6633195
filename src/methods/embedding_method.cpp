// Method A: a frozen Qwen3(-Embedding) model turns each text into a vector
// once (cached on disk), and a small head learns from the vectors in seconds.
//
// Run folder: manifest.json (method "embedding") and head.safetensors (see
// embedding_head.h for its names).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include "io/dataset.h"
#include "io/split.h"
#include "io/weight_store.h"
#include "methods/classifier.h"
#include "methods/embedder.h"
#include "methods/embedding_cache.h"
#include "methods/embedding_head.h"
#include "methods/method.h"
#include "methods/trainer_method.h"
#include "model/config.h"
#include "model/losses.h"
#include "train/training_data.h"
#include "train/metrics.h"
#include "train/train_options.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace qsenti {

namespace {

constexpr const char* kHeadFile = "head.safetensors";
constexpr int64_t kEmbedBatch = 16;  // texts per forward pass while embedding
constexpr int64_t kDefaultEpochs = 10;

torch::Tensor head_probabilities(EmbeddingHead& head, const torch::Tensor& x) {
  torch::NoGradGuard ng;
  head->eval();
  return torch::softmax(head->forward(x), -1).to(torch::kFloat32).contiguous();
}

Metrics evaluate_head(EmbeddingHead& head, const torch::Tensor& x, const std::vector<int64_t>& labels,
                      const std::vector<std::string>& names) {
  torch::Tensor p = head_probabilities(head, x).to(torch::kFloat64).contiguous();
  std::vector<double> flat(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  return compute_metrics_flat(labels, flat, names);
}

// The head on the shared Trainer (train/trainer.h), as B and C train: the
// same schedule, accumulation, clipping, validation, best weights, history,
// checkpoints and exact --resume. Its examples are cached vectors, all of
// one "length" (batches are then plain seeded shuffles), counted as tokens.
class HeadTask : public TrainingTask {
 public:
  HeadTask(EmbeddingHead head, torch::Tensor x_train, std::vector<int64_t> y_train, torch::Tensor x_valid,
           std::vector<int64_t> y_valid, std::vector<std::string> names, torch::Tensor class_weights)
      : head_(std::move(head)), x_train_(std::move(x_train)), y_train_(torch::tensor(y_train, torch::kInt64)),
        x_valid_(std::move(x_valid)), y_valid_(std::move(y_valid)), names_(std::move(names)) {
    if (class_weights.defined()) ce_.weight(class_weights);
  }
  std::vector<TrainableParameter> trainable_parameters() override {
    std::vector<TrainableParameter> out;
    for (auto& item : head_->named_parameters(true))  // no decay on biases, as the trainer does for B and C
      out.push_back({"head." + item.key(), item.value(), item.value().dim() > 1});
    return out;
  }
  std::vector<int64_t> train_lengths() override { return std::vector<int64_t>(static_cast<size_t>(x_train_.size(0)), 1); }
  BatchLoss loss(const std::vector<size_t>& indices) override {
    head_->train();
    std::vector<int64_t> idx(indices.begin(), indices.end());
    torch::Tensor i = torch::tensor(idx, torch::kInt64);
    torch::Tensor logits = head_->forward(x_train_.index_select(0, i));
    return {torch::nn::functional::cross_entropy(logits, y_train_.index_select(0, i), ce_),
            static_cast<int64_t>(indices.size())};
  }
  bool has_validation() const override { return x_valid_.size(0) > 0; }
  Metrics validate() override {
    Metrics m = evaluate_head(head_, x_valid_, y_valid_, names_);
    head_->train();
    return m;
  }

 private:
  EmbeddingHead head_;
  torch::Tensor x_train_, y_train_, x_valid_;
  std::vector<int64_t> y_valid_;
  std::vector<std::string> names_;
  torch::nn::functional::CrossEntropyFuncOptions ce_;
};

std::string fixed(double v, int digits = 4) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string resolve_model_dir(const TrainOptions& o) {
  std::string dir = o.model;
  if (dir.empty()) dir = "models/Qwen3-Embedding-" + (o.model_size.empty() ? std::string("0.6B") : o.model_size);
  if (!fs::is_directory(dir))
    throw InputError("--model: " + dir + " is not a model folder (give a Qwen3-Embedding folder in Hugging Face layout)");
  return fs::absolute(dir).lexically_normal().string();
}

torch::Tensor rows_of(const torch::Tensor& all, int64_t begin, int64_t n) { return all.narrow(0, begin, n); }

}  // namespace

std::string train_embedding_method(const TrainOptions& given) {
  TrainOptions o = given;
  std::string out = o.out;
  if (!o.resume.empty()) {
    out = o.resume;
    o = options_for_resume(given, "embedding");  // the vectors then come from the cache
  }
  const std::string model_dir = resolve_model_dir(o);
  const Qwen3Config config = Qwen3Config::load(model_dir);
  const std::string size = o.model_size.empty() ? infer_model_size(config.hidden_size) : o.model_size;
  const SizeDefaults defaults = size_defaults(size, "embedding");
  if (o.resume.empty()) {
    o.model = model_dir;
    o.model_size = size;
    if (o.epochs <= 0) o.epochs = kDefaultEpochs;
    if (o.batch_size <= 0) o.batch_size = defaults.batch_size;
    if (o.lr <= 0) o.lr = defaults.lr;
  }
  const int64_t epochs = o.epochs, batch_size = o.batch_size;
  const double lr = o.lr;
  if (out.empty()) out = "models/embedding-" + (size.empty() ? std::string("custom") : size);
  if (o.head != "mlp" && o.head != "logreg") throw Error("--head: mlp or logreg", ExitCode::kUsage);
  fs::create_directories(out);
  if (o.resume.empty())
    write_text_atomically((fs::path(out) / "train_options.json").string(), train_options_to_json(o).dump(2) + "\n");

  // Data: train, validation (a file or a stratified seeded split), test.
  TrainingData data = load_training_data(o);
  Dataset& train = data.train;
  Dataset& valid = data.valid;
  Dataset& test = data.test;
  const std::string& valid_source = data.valid_source;
  const auto& names = train.label_set.names();
  // Progress and notes go to standard error (stdout is for results, as in
  // methods B and C), and nowhere under --quiet.
  std::ostream quiet_sink(nullptr);
  std::ostream& log = o.quiet ? quiet_sink : std::cerr;

  // Vectors, from the cache where possible.
  EmbedderOptions eo;
  eo.instruction = o.instruction;
  eo.max_length = o.max_length;
  eo.dtype = o.dtype;
  eo.device = o.device;
  eo.batch_size = kEmbedBatch;
  eo.progress = !o.quiet;
  Embedder embedder(model_dir, eo);
  TruncationCounts truncated;
  truncated.max_length = o.max_length;
  truncated.train = embedder.count_truncated(train.texts);
  truncated.valid = embedder.count_truncated(valid.texts);
  truncated.test = embedder.count_truncated(test.texts);
  log << "method A (embedding): " << model_dir << (size.empty() ? "" : " (" + size + ")") << "\n"
            << "data: " << train.size() << " train, " << valid.size() << " valid (" << valid_source << ")"
            << (test.size() ? ", " + std::to_string(test.size()) + " test" : std::string()) << "; labels";
  for (const auto& n : names) log << " " << n;
  log << describe_truncation(truncated) << "\n";
  std::unique_ptr<EmbeddingCache> cache;
  if (!o.no_cache) cache = std::make_unique<EmbeddingCache>(resolve_cache_root(o.cache_dir), embedder.identity(), embedder.dim(), true);
  std::vector<std::string> all;
  all.reserve(train.size() + valid.size() + test.size());
  for (const Dataset* d : {&train, &valid, &test}) all.insert(all.end(), d->texts.begin(), d->texts.end());
  CachedEmbedStats cs;
  torch::Tensor X = embed_with_cache(embedder, cache.get(), all, &cs);
  log << describe(cs) << "\n";
  if (embedder.stats().forward_passes > 0) {
    const EmbedStats& es = embedder.stats();
    log << "embedded " << es.texts << " texts in " << fixed(es.seconds, 1) << " s ("
              << format_rate(es.texts / std::max(es.seconds, 1e-9)) << " texts/s, " << embedder.dtype_name()
              << ", padding " << fixed(100 * es.padding_overhead(), 1) << "% of real tokens)\n";
  } else {
    log << "no forward pass: every vector came from the cache\n";
  }
  const int64_t ntr = static_cast<int64_t>(train.size()), nva = static_cast<int64_t>(valid.size()),
                nte = static_cast<int64_t>(test.size());
  torch::Tensor Xtr = rows_of(X, 0, ntr), Xva = rows_of(X, ntr, nva), Xte = rows_of(X, ntr + nva, nte);

  // The head, trained by the shared Trainer on the host (the vectors are
  // there; a head this small gains nothing from a GPU or bf16).
  torch::manual_seed(o.seed);
  HeadSpec spec;
  spec.kind = o.head;
  spec.input_dim = embedder.dim();
  spec.num_labels = static_cast<int64_t>(names.size());
  EmbeddingHead head(spec);
  torch::Tensor class_weights;
  if (o.class_weights == "auto") {
    class_weights = balanced_class_weights(train.labels, static_cast<int64_t>(names.size()));
    log << "class weights (auto):";
    for (size_t c = 0; c < names.size(); ++c) log << " " << names[c] << " " << class_weights[static_cast<int64_t>(c)].item<float>();
    log << "\n";
  }
  log << "head: " << o.head << " on " << embedder.dim() << "-d vectors; " << epochs << " epochs, batch "
      << batch_size << ", lr " << lr << ", AdamW (weight decay " << o.weight_decay << "), " << o.schedule
      << " schedule, seed " << o.seed << "\n";
  HeadTask task(head, Xtr, train.labels, Xva, valid.labels, names, class_weights);
  TrainOptions head_options = o;
  head_options.device = "cpu";
  head_options.dtype = "fp32";
  RunManifest m = train_and_describe(task, head_options, out, "embedding", names);
  const nlohmann::json trainer_settings = m.hyperparameters.at("trainer");
  m.hyperparameters = train_options_to_json(o);  // as asked (the embedder's device and dtype)
  m.hyperparameters["trainer"] = trainer_settings;
  m.hyperparameters["valid"] = valid_source;
  m.hyperparameters["train_examples"] = ntr;
  m.metrics["truncated"] = to_json(truncated);
  const nlohmann::json& training = m.metrics.at("training");
  log << "head trained in " << fixed(training.value("train_seconds", 0.0), 1) << " s, " << training.value("steps", 0)
      << " steps; keeping step " << training.value("best_step", 0) << "\n";

  // Run folder.
  save_head(head, (fs::path(out) / kHeadFile).string());
  m.base_model = model_dir;
  m.base_model_fingerprint = embedder.model_fingerprint();
  m.extra = {{"head", o.head},
             {"head_file", kHeadFile},
             {"head_hidden", o.head == "mlp" ? spec.hidden : 0},
             {"head_dropout", o.head == "mlp" ? spec.dropout : 0.0},
             {"instruction", o.instruction},
             {"max_length", o.max_length},
             {"dtype", embedder.dtype_name()},
             {"embedding_dim", embedder.dim()},
             {"pooling", "last token (<|endoftext|> appended), L2-normalised"}};
  if (nva > 0) {
    Metrics vm = evaluate_head(head, Xva, valid.labels, names);
    m.metrics["valid"] = to_json(vm);
    log << "\nvalidation (" << nva << " examples, step " << training.value("best_step", 0) << "):\n" << format_report(vm);
  }
  if (nte > 0) {
    Metrics tm = evaluate_head(head, Xte, test.labels, names);
    m.metrics["test"] = to_json(tm);
    log << "\ntest (" << o.test_path << ", " << nte << " examples):\n" << format_report(tm);
  }
  m.created = utc_now_iso8601();
  m.save(out);
  finish_run_folder(out, o);
  return out;
}

namespace {

class EmbeddingClassifier : public TextClassifier {
 public:
  EmbeddingClassifier(const std::string& run_dir, RunManifest m, const PredictOptions& po) : manifest_(std::move(m)) {
    const auto& x = manifest_.extra;
    if (!fs::is_directory(manifest_.base_model))
      throw InputError(run_dir + "/manifest.json: base model " + manifest_.base_model + " is not a folder (moved?)");
    EmbedderOptions eo;
    eo.instruction = x.value("instruction", "");
    eo.max_length = po.max_length > 0 ? po.max_length : x.value("max_length", int64_t{256});
    eo.dtype = po.dtype == "auto" ? x.value("dtype", std::string("auto")) : po.dtype;
    eo.batch_size = po.batch_size > 0 ? po.batch_size : kEmbedBatch;
    eo.device = po.device;
    eo.progress = po.inner_progress;
    embedder_ = std::make_unique<Embedder>(manifest_.base_model, eo);
    if (!manifest_.base_model_fingerprint.empty() && embedder_->model_fingerprint() != manifest_.base_model_fingerprint)
      throw InputError(run_dir + ": the weights in " + manifest_.base_model +
                       " changed since training (fingerprint differs); the head would read meaningless vectors");
    head_ = load_head((fs::path(run_dir) / x.value("head_file", std::string(kHeadFile))).string());
    if (head_->spec().input_dim != embedder_->dim() ||
        head_->spec().num_labels != static_cast<int64_t>(manifest_.labels.size()))
      throw InputError(run_dir + ": the head's shape does not match the base model or the labels");
    // Prediction reads the user's cache but never writes to it.
    try {
      const std::string root = resolve_cache_root();
      if (fs::is_directory(root))
        cache_ = std::make_unique<EmbeddingCache>(root, embedder_->identity(), embedder_->dim(), false);
    } catch (const Error&) {
      cache_.reset();
    }
  }

  const RunManifest& manifest() const override { return manifest_; }

  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    truncated_ += embedder_->count_truncated(texts);
    torch::Tensor x = embed_with_cache(*embedder_, cache_.get(), texts);
    return head_probabilities(head_, x);
  }
  int64_t truncated_texts() const override { return truncated_; }
  int64_t max_length() const override { return embedder_->options().max_length; }

  bool can_embed() const override { return true; }
  torch::Tensor embed(const std::vector<std::string>& texts) override {
    return embed_with_cache(*embedder_, cache_.get(), texts);
  }

 private:
  RunManifest manifest_;
  std::unique_ptr<Embedder> embedder_;
  EmbeddingHead head_{nullptr};
  std::unique_ptr<EmbeddingCache> cache_;
  int64_t truncated_ = 0;
};

std::unique_ptr<TextClassifier> load_embedding_classifier(const std::string& run_dir, const RunManifest& m,
                                                         const PredictOptions& options) {
  return std::make_unique<EmbeddingClassifier>(run_dir, m, options);
}

}  // namespace

const Method& embedding_method() {
  static const Method m = [] {
    Method d;
    d.name = "embedding";
    d.letter = "A";
    d.summary = "frozen Qwen3-Embedding + small head";
    d.options = trainer_options();
    d.options.insert(d.options.end(), {"--class-weights", "--head", "--instruction", "--cache-dir", "--no-cache"});
    d.one_process_only = "method A (embedding) trains its small head in one process (seconds on cached vectors)";
    d.train = train_embedding_method;
    d.load = load_embedding_classifier;
    return d;
  }();
  return m;
}

}  // namespace qsenti
