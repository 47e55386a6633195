#include "methods/embedder.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "device/device.h"
#include "io/weight_store.h"
#include "model/config.h"
#include "model/loading.h"
#include "text/batch.h"
#include "util/error.h"
#include "util/progress.h"
#include "text/length_batching.h"

namespace qsenti {

std::string instruction_prefix(const std::string& task) { return "Instruct: " + task + "\nQuery:"; }

std::string resolve_embedding_dtype(const std::string& dtype, int64_t hidden_size) {
  if (dtype == "auto") return hidden_size >= 1024 ? "bf16" : "fp32";
  if (dtype == "fp32" || dtype == "float32") return "fp32";
  if (dtype == "bf16" || dtype == "bfloat16") return "bf16";
  throw Error("--dtype: expected auto, fp32 or bf16, got \"" + dtype + "\"", ExitCode::kUsage);
}

Embedder::Embedder(const std::string& model_dir, EmbedderOptions options)
    : model_dir_(model_dir), options_(std::move(options)) {
  const Qwen3Config config = Qwen3Config::load(model_dir_);
  hidden_size_ = config.hidden_size;
  dtype_name_ = resolve_embedding_dtype(options_.dtype, hidden_size_);
  tokenizer_ = Tokenizer::for_model(model_dir_);
  if (tokenizer_->endoftext_id() >= 0) endoftext_id_ = tokenizer_->endoftext_id();
}

Embedder::Embedder(Qwen3 model, std::shared_ptr<const Tokenizer> tokenizer, EmbedderOptions options)
    : options_(std::move(options)), model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  hidden_size_ = model_->config.hidden_size;
  // The model's parameters decide what it computes in.
  const auto p = model_->parameters();
  dtype_name_ = (!p.empty() && p[0].scalar_type() == torch::kBFloat16) ? "bf16" : "fp32";
  if (tokenizer_ && tokenizer_->endoftext_id() >= 0) endoftext_id_ = tokenizer_->endoftext_id();
  model_->eval();
}

const std::string& Embedder::model_fingerprint() const {
  if (fingerprint_.empty()) fingerprint_ = model_dir_.empty() ? "in-memory" : qsenti::model_fingerprint(model_dir_);
  return fingerprint_;
}

std::string Embedder::identity() const {
  // Everything that changes the numbers. Batch size and padding do not (the
  // mask makes padded rows equal to unpadded ones, up to rounding).
  return "qsenti-embedding v1\nmodel=" + model_fingerprint() + "\npooling=last_token_l2+endoftext\ninstruction=" +
         options_.instruction + "\nmax_length=" + std::to_string(options_.max_length) + "\ndtype=" + dtype_name_;
}

const Tokenizer& Embedder::tokenizer() const {
  if (!tokenizer_) throw Error("embedder: no tokenizer (built for token ids only)");
  return *tokenizer_;
}

// One recipe for one text and for many (the batch form below).
std::vector<int32_t> Embedder::token_ids(const std::string& text) const {
  return std::move(token_ids(std::vector<std::string>{text}).front());
}

void Embedder::ensure_model() {
  if (model_) return;
  LoadOptions lo;
  lo.dtype = dtype_name_ == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  lo.device = resolve_device(options_.device);
  model_ = load_qwen3(model_dir_, lo);
  model_->eval();
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
}

torch::Tensor Embedder::embed_ids(const std::vector<std::vector<int32_t>>& seqs, const BatchSink& sink) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::Tensor out = torch::empty({static_cast<int64_t>(seqs.size()), hidden_size_}, torch::kFloat32);
  if (seqs.empty()) return out;
  std::vector<int64_t> lengths(seqs.size());
  int64_t total_tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].empty()) throw Error("embedder: sequence " + std::to_string(i) + " is empty");
    lengths[i] = static_cast<int64_t>(seqs[i].size());
    total_tokens += lengths[i];
  }
  ensure_model();
  torch::NoGradGuard no_grad;
  model_->eval();

  ProgressOptions po;
  po.label = options_.progress_label;
  po.unit = "texts";
  po.extra_unit = "tok";
  po.enabled = options_.progress;
  Progress progress(static_cast<int64_t>(seqs.size()), po);

  const auto batches = sorted_batches(lengths, options_.batch_size, options_.max_padding);
  for (const auto& batch : batches) {
    std::vector<std::vector<int32_t>> rows;
    rows.reserve(batch.size());
    int64_t real = 0;
    for (size_t i : batch) {
      rows.push_back(seqs[i]);
      real += lengths[i];
    }
    // Left padding, as the Qwen3-Embedding card; positions come from the mask.
    TokenBatch tb = pad_batch(rows, endoftext_id_, PadSide::kLeft);
    ForwardArgs args;
    args.input_ids = tb.input_ids;
    args.attention_mask = tb.attention_mask;
    args.final_positions = last_token_index(tb.attention_mask);  // the last layer runs the pooled token only
    torch::Tensor last = model_->forward(args).last_hidden_state.select(1, 0).to(torch::kFloat32);
    torch::Tensor vecs = (last / last.norm(2, {1}, true).clamp_min(1e-12)).to(torch::kCPU);
    torch::Tensor index = torch::tensor(std::vector<int64_t>(batch.begin(), batch.end()), torch::kInt64);
    out.index_copy_(0, index, vecs);
    stats_.forward_passes += 1;
    stats_.real_tokens += real;
    stats_.padded_tokens += tb.input_ids.numel() - real;
    if (sink) sink(batch, vecs);
    progress.advance(static_cast<int64_t>(batch.size()), real);
  }
  progress.finish();
  stats_.texts += static_cast<int64_t>(seqs.size());
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)total_tokens;
  return out;
}

// A's text recipe, for token_ids() and count_truncated() alike: the prefix
// and the text tokenised as one string, as Hugging Face does with the
// formatted query (the boundary, "Query:" + first word, may merge). Each
// result keeps its first `max_len` ids (-1: all).
std::vector<std::vector<int32_t>> Embedder::encode_texts(const std::vector<std::string>& texts, int64_t max_len) const {
  if (options_.instruction.empty()) return tokenizer().encode_batch(texts, SpecialTokens::kAsText, max_len);
  const std::string prefix = instruction_prefix(options_.instruction);
  std::vector<std::string> full;
  full.reserve(texts.size());
  for (const auto& t : texts) full.push_back(prefix + t);
  return tokenizer().encode_batch(full, SpecialTokens::kAsText, max_len);
}

int64_t Embedder::count_truncated(const std::vector<std::string>& texts) const {
  if (options_.max_length <= 0 || texts.empty()) return 0;
  // One token past the limit tells a cut text; no need to encode it all.
  int64_t n = 0;
  for (const auto& ids : encode_texts(texts, options_.max_length))
    n += static_cast<int64_t>(ids.size()) > options_.max_length - 1;
  return n;
}

std::vector<std::vector<int32_t>> Embedder::token_ids(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> seqs = encode_texts(texts);
  for (auto& ids : seqs) {
    if (options_.max_length > 0 && static_cast<int64_t>(ids.size()) > options_.max_length - 1)
      ids.resize(static_cast<size_t>(std::max<int64_t>(0, options_.max_length - 1)));
    ids.push_back(endoftext_id_);
  }
  return seqs;
}

torch::Tensor Embedder::embed(const std::vector<std::string>& texts, const BatchSink& sink) {
  return embed_ids(token_ids(texts), sink);
}

}  // namespace qsenti
