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
#include "model/config.h"
#include "model/losses.h"
#include "train/training_data.h"
#include "train/metrics.h"
#include "train/train_options.h"
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

// Validation score used to keep the best epoch: weighted F1, then accuracy,
// then lower log loss.
bool better(const Metrics& a, const Metrics& b) {
  if (a.weighted_f1 != b.weighted_f1) return a.weighted_f1 > b.weighted_f1;
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.log_loss < b.log_loss;
}

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

std::string train_embedding_method(const TrainOptions& o) {
  const std::string model_dir = resolve_model_dir(o);
  const Qwen3Config config = Qwen3Config::load(model_dir);
  const std::string size = o.model_size.empty() ? infer_model_size(config.hidden_size) : o.model_size;
  const SizeDefaults defaults = size_defaults(size, "embedding");
  const int64_t epochs = o.epochs > 0 ? o.epochs : kDefaultEpochs;
  const int64_t batch_size = o.batch_size > 0 ? o.batch_size : defaults.batch_size;
  const double lr = o.lr > 0 ? o.lr : defaults.lr;
  const std::string out = o.out.empty() ? "models/embedding-" + (size.empty() ? std::string("custom") : size) : o.out;
  if (o.head != "mlp" && o.head != "logreg") throw Error("--head: mlp or logreg", ExitCode::kUsage);

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
  log << "method A (embedding): " << model_dir << (size.empty() ? "" : " (" + size + ")") << "\n"
            << "data: " << train.size() << " train, " << valid.size() << " valid (" << valid_source << ")"
            << (test.size() ? ", " + std::to_string(test.size()) + " test" : std::string()) << "; labels";
  for (const auto& n : names) log << " " << n;
  log << "\n";

  // Vectors, from the cache where possible.
  EmbedderOptions eo;
  eo.instruction = o.instruction;
  eo.max_length = o.max_length;
  eo.dtype = o.dtype;
  eo.device = o.device;
  eo.batch_size = kEmbedBatch;
  eo.progress = !o.quiet;
  Embedder embedder(model_dir, eo);
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
  torch::Tensor Ytr = torch::tensor(train.labels, torch::kInt64);

  // The head.
  torch::manual_seed(o.seed);
  HeadSpec spec;
  spec.kind = o.head;
  spec.input_dim = embedder.dim();
  spec.num_labels = static_cast<int64_t>(names.size());
  EmbeddingHead head(spec);
  torch::optim::AdamW opt(head->parameters(), torch::optim::AdamWOptions(lr).weight_decay(o.weight_decay));
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(ntr));
  std::iota(order.begin(), order.end(), int64_t{0});

  std::optional<Metrics> best;
  int64_t best_epoch = 0, steps = 0, epochs_since_best = 0;
  // --class-weights auto: a weighted cross-entropy for unbalanced data.
  auto ce = torch::nn::functional::CrossEntropyFuncOptions();
  if (o.class_weights == "auto") {
    ce.weight(balanced_class_weights(train.labels, static_cast<int64_t>(names.size())));
    log << "class weights (auto):";
    for (size_t c = 0; c < names.size(); ++c) log << " " << names[c] << " " << ce.weight()[static_cast<int64_t>(c)].item<float>();
    log << "\n";
  }
  std::vector<torch::Tensor> best_state;
  auto snapshot = [&] {
    best_state.clear();
    for (const auto& p : head->parameters()) best_state.push_back(p.detach().clone());
  };
  log << "head: " << o.head << " on " << embedder.dim() << "-d vectors; " << epochs << " epochs, batch "
            << batch_size << ", lr " << lr << ", AdamW (weight decay " << o.weight_decay << "), seed " << o.seed << "\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    head->train();
    fisher_yates_shuffle(order, rng);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < ntr; b += batch_size) {
      const int64_t n = std::min(batch_size, ntr - b);
      torch::Tensor idx = torch::from_blob(order.data() + b, {n}, torch::kInt64);
      torch::Tensor logits = head->forward(Xtr.index_select(0, idx));
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, Ytr.index_select(0, idx), ce);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(n);
      seen += n;
      if (o.max_steps > 0 && ++steps >= o.max_steps) break;
    }
    log << "epoch " << epoch << "/" << epochs << "  train loss " << fixed(loss_sum / std::max<int64_t>(seen, 1));
    if (nva > 0) {
      Metrics m = evaluate_head(head, Xva, valid.labels, names);
      const bool improved = !best || better(m, *best);
      log << "  valid acc " << fixed(m.accuracy) << "  weighted F1 " << fixed(m.weighted_f1) << "  macro F1 "
                << fixed(m.macro_f1) << "  loss " << fixed(m.log_loss) << (improved ? "  (best)" : "");
      epochs_since_best = improved ? 0 : epochs_since_best + 1;
      if (improved) {
        best = m;
        best_epoch = epoch;
        snapshot();
      }
    } else {
      best_epoch = epoch;
      snapshot();
    }
    log << std::endl;
    if (o.max_steps > 0 && steps >= o.max_steps) break;
    if (o.patience > 0 && epochs_since_best >= o.patience && epoch < epochs) {
      log << "early stop: " << epochs_since_best << " epochs without a better validation (--patience " << o.patience
          << ")\n";
      break;
    }
  }
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    torch::NoGradGuard ng;
    auto params = head->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_state[i]);
  }
  log << "head trained in " << fixed(train_s, 1) << " s; keeping epoch " << best_epoch << "\n";

  // Run folder.
  fs::create_directories(out);
  save_head(head, (fs::path(out) / kHeadFile).string());
  RunManifest m;
  m.method = "embedding";
  m.base_model = model_dir;
  m.base_model_fingerprint = embedder.model_fingerprint();
  m.model_size = size;
  m.labels = names;
  m.hyperparameters = {{"epochs", epochs},       {"batch_size", batch_size},     {"lr", lr},
                       {"optimizer", "AdamW"},   {"weight_decay", o.weight_decay}, {"seed", o.seed},
                       {"best_epoch", best_epoch}, {"valid", valid_source},       {"train_examples", ntr},
                       {"selection", "best validation weighted F1"},
                       {"patience", o.patience},           {"class_weights", o.class_weights}};
  if (o.max_steps > 0) m.hyperparameters["max_steps"] = o.max_steps;
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
    log << "\nvalidation (" << nva << " examples, epoch " << best_epoch << "):\n" << format_report(vm);
  }
  if (nte > 0) {
    Metrics tm = evaluate_head(head, Xte, test.labels, names);
    m.metrics["test"] = to_json(tm);
    log << "\ntest (" << o.test_path << ", " << nte << " examples):\n" << format_report(tm);
  }
  m.created = utc_now_iso8601();
  m.save(out);
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
    torch::Tensor x = embed_with_cache(*embedder_, cache_.get(), texts);
    return head_probabilities(head_, x);
  }

  bool can_embed() const override { return true; }
  torch::Tensor embed(const std::vector<std::string>& texts) override {
    return embed_with_cache(*embedder_, cache_.get(), texts);
  }

 private:
  RunManifest manifest_;
  std::unique_ptr<Embedder> embedder_;
  EmbeddingHead head_{nullptr};
  std::unique_ptr<EmbeddingCache> cache_;
};

}  // namespace

std::unique_ptr<TextClassifier> load_embedding_classifier(const std::string& run_dir, const RunManifest& m,
                                                         const PredictOptions& options) {
  return std::make_unique<EmbeddingClassifier>(run_dir, m, options);
}

}  // namespace qsenti
