#include "text/qwen3_tokens.h"
#include "export/gguf_export.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "export/gguf_writer.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "methods/classifier.h"
#include "methods/hf_run.h"
#include "methods/seqcls_model.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "text/tokenizer_json.h"
#include "util/assets.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

namespace {

// llama.cpp's token types (gguf-py TokenType) and pooling types.
constexpr int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUserDefined = 4, kTokenUnused = 5;
constexpr uint32_t kPoolingLast = 3, kPoolingRank = 4;

enum class Kind { kClassifier, kCausal, kEmbedding };

// What is exported: the config, where the tokenizer lives, and every HF
// tensor by name with a way to produce it.
struct Source {
  Kind kind = Kind::kCausal;
  Qwen3Config config;
  std::string tokenizer_dir;
  std::string name;                  // general.name
  std::string method;                // qsenti.method
  std::vector<std::string> labels;   // C: id2label; A/B: the run's labels
  std::optional<int64_t> pad_id;     // C: the id the classifier pads with
  nlohmann::json qsenti = nlohmann::json::object();  // extra qsenti.* metadata
  std::string head_file;             // A: the head to write beside the GGUF
  std::map<std::string, std::pair<std::vector<int64_t>, GgufWriter::Producer>> tensors;
  Qwen3 model{nullptr};              // kept alive for the producers
  std::shared_ptr<WeightStore> store;
};

void add_store_tensors(Source& s, const std::string& dir) {
  s.store = std::make_shared<WeightStore>(dir);
  auto store = s.store;
  for (const auto& n : store->names()) {
    std::string hf = n;
    // Qwen3-Embedding checkpoints are saved from Qwen3Model: no "model." prefix.
    if (hf.rfind("model.", 0) != 0 && hf != "lm_head.weight" && hf != "score.weight") hf = "model." + hf;
    s.tensors[hf] = {store->entry(n).shape, [store, n] { return store->tensor(n); }};
  }
}

void add_model_tensors(Source& s) {
  for (auto& item : s.model->named_parameters(true)) {
    if (item.key().find("lora_") != std::string::npos) continue;
    torch::Tensor t = item.value().detach();
    s.tensors[item.key()] = {t.sizes().vec(), [t] { return t; }};
  }
}

bool looks_like_embedding_model(const std::string& dir) {
  return fs::exists(fs::path(dir) / "config_sentence_transformers.json") || fs::exists(fs::path(dir) / "modules.json");
}

std::vector<std::string> labels_of(const Qwen3Config& c) {
  std::vector<std::string> l = c.id2label;
  if (l.empty())
    for (int64_t i = 0; i < c.num_labels; ++i) l.push_back("LABEL_" + std::to_string(i));
  return l;
}

Source source_for_model(const GgufExportOptions& o) {
  Source s;
  s.config = Qwen3Config::load(o.model);
  s.tokenizer_dir = o.model;
  s.name = fs::path(o.model).lexically_normal().filename().string();
  if (s.name.empty()) s.name = fs::path(o.model).lexically_normal().parent_path().filename().string();
  s.method = "model";
  if (s.config.is_sequence_classifier()) {
    s.kind = Kind::kClassifier;
    s.labels = labels_of(s.config);
    s.pad_id = s.config.pad_token_id.value_or(kQwen3EndOfTextId);
  } else if (o.embedding || looks_like_embedding_model(o.model)) {
    s.kind = Kind::kEmbedding;
  }
  add_store_tensors(s, o.model);
  return s;
}

Source source_for_run(const GgufExportOptions& o) {
  Source s;
  const RunManifest m = open_run_manifest(o.run);
  PredictOptions po;
  po.base_model = o.base;
  s.name = fs::path(o.run).lexically_normal().filename().string();
  if (s.name.empty()) s.name = fs::path(o.run).lexically_normal().parent_path().filename().string();
  s.method = m.method;
  s.labels = m.labels;
  LoadOptions lo;  // fp32: LoRA is merged in fp32 and rounded once, when written
  if (m.method == "embedding") {
    s.kind = Kind::kEmbedding;
    s.tokenizer_dir = run_base_model(o.run, m, po);
    s.config = Qwen3Config::load(s.tokenizer_dir);
    add_store_tensors(s, s.tokenizer_dir);
    s.head_file = (fs::path(o.run) / m.extra.value("head_file", std::string("head.safetensors"))).string();
    if (!fs::exists(s.head_file)) throw InputError(o.run + ": the head file " + s.head_file + " is missing");
    s.qsenti = {{"embedding.instruction", m.extra.value("instruction", "")},
                {"embedding.max_length", m.extra.value("max_length", 256)},
                {"embedding.pooling", m.extra.value("pooling", "last token (<|endoftext|> appended), L2-normalised")}};
  } else if (m.method == "classifier") {
    const SeqClsEncoding enc = SeqClsEncoding::from_manifest(m.extra, 256);
    if (enc.recipe != SeqClsRecipe::kTransformers)
      throw InputError(o.run + ": this run was trained before qsenti 0.2 with <|endoftext|> appended to every text; "
                       "llama.cpp pools the last token of what it is given and would answer differently. "
                       "Retrain it to export it");
    s.kind = Kind::kClassifier;
    s.pad_id = enc.pad_id;
    s.qsenti = {{"classifier.max_length", enc.max_length}};
    if (m.extra.value("mode", "lora") == "full") {
      s.tokenizer_dir = run_model_dir(o.run, m);
      s.config = Qwen3Config::load(s.tokenizer_dir);
      add_store_tensors(s, s.tokenizer_dir);  // no merge needed: straight from the checkpoint
    } else {
      s.tokenizer_dir = run_base_model(o.run, m, po);
      lo.score_head = true;
      lo.num_labels = static_cast<int64_t>(m.labels.size());
      s.model = load_qwen3(s.tokenizer_dir, lo);
      load_peft_adapter(s.model, run_adapter_dir(o.run, m));
      s.model->merge_lora();
      s.config = s.model->config;
      add_model_tensors(s);
    }
    s.config.num_labels = static_cast<int64_t>(m.labels.size());
  } else if (m.method == "lora") {
    s.kind = Kind::kCausal;
    s.tokenizer_dir = run_base_model(o.run, m, po);
    s.model = load_qwen3(s.tokenizer_dir, lo);
    load_peft_adapter(s.model, run_adapter_dir(o.run, m));
    s.model->merge_lora();
    s.config = s.model->config;
    add_model_tensors(s);
    s.qsenti = {{"prompt.template", m.extra.value("template", "default")},
                {"prompt.prefix", m.extra.value("template_prefix", "")},
                {"prompt.suffix", m.extra.value("template_suffix", "")},
                {"prompt.end_token", m.extra.value("end_token", "<|im_end|>")},
                {"prompt.answer_score", m.extra.value("answer_score", "")},
                {"prompt.max_length", m.extra.value("max_length", 0)},
                {"label_words", m.extra.value("label_words", nlohmann::json::array())}};
  } else {
    throw InputError(o.run + ": unknown method \"" + m.method + "\"");
  }
  return s;
}

// ---------------------------------------------------------------- tokenizer

std::string token_content(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

bool looks_special(const std::string& t) {
  return t.size() >= 4 && t.compare(0, 2, "<|") == 0 && t.compare(t.size() - 2, 2, "|>") == 0;
}

void write_tokenizer(GgufWriter& w, const Source& s) {
  fs::path dir = s.tokenizer_dir;
  if (!fs::exists(dir / "tokenizer.json")) dir = fs::path(assets_dir()) / "qwen3-tokenizer";
  const std::string tj = (dir / "tokenizer.json").string();
  const TokenizerFile tf = read_tokenizer_json(tj);
  const int64_t vocab = s.config.vocab_size;
  std::vector<std::string> tokens(vocab);
  std::vector<int32_t> types(vocab, 0);
  std::map<std::string, int32_t> added_ids;
  for (const auto& [tok, id] : tf.vocab) {
    if (id < 0 || id >= vocab)
      throw InputError(tj + ": token id " + std::to_string(id) + " is outside config.json's vocab_size " + std::to_string(vocab));
    tokens[id] = tok;
    types[id] = kTokenNormal;
  }
  for (const auto& a : tf.added_tokens) {
    if (a.id < 0 || a.id >= vocab)
      throw InputError(tj + ": added token id " + std::to_string(a.id) + " is outside config.json's vocab_size " +
                       std::to_string(vocab));
    tokens[a.id] = a.content;
    types[a.id] = a.special || looks_special(a.content) ? kTokenControl : kTokenUserDefined;
    added_ids[a.content] = a.id;
  }
  // The ids the embedding matrix has beyond the tokenizer (Qwen3: 151669 ..
  // 151935), named as llama.cpp's converter names them.
  for (int64_t i = 0; i < vocab; ++i)
    if (types[i] == 0) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = kTokenUnused;
    }
  std::vector<std::string> merges;
  merges.reserve(tf.merges.size());
  for (const auto& [l, r] : tf.merges) merges.push_back(l + " " + r);

  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", merges);

  nlohmann::json tc = nlohmann::json::object();
  const fs::path tcp = dir / "tokenizer_config.json";
  if (fs::exists(tcp)) {
    std::ifstream in(tcp);
    try {
      tc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(tcp.string() + ": not valid JSON: " + e.what());
    }
  }
  auto id_of = [&](const char* key, std::optional<int64_t> fallback) -> std::optional<int64_t> {
    if (tc.contains(key)) {
      const std::string c = token_content(tc[key]);
      auto it = added_ids.find(c);
      if (it != added_ids.end()) return it->second;
    }
    return fallback;
  };
  // As llama.cpp's converter: the tokenizer config first, config.json after.
  if (auto bos = id_of("bos_token", s.config.bos_token_id)) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*bos));
  // Qwen3-Embedding pools the hidden state of an appended <|endoftext|>: as
  // llama.cpp's EOS, added by its tokenizer, every llama.cpp-based tool
  // (llama-embedding, ollama, LM Studio) pools the token qsenti pools.
  const bool embedding = s.kind == Kind::kEmbedding && added_ids.count("<|endoftext|>");
  std::optional<int64_t> eos = embedding ? std::optional<int64_t>(added_ids.at("<|endoftext|>"))
                                         : id_of("eos_token", s.config.eos_token_id);
  if (eos) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
  std::optional<int64_t> pad = s.pad_id ? s.pad_id : id_of("pad_token", s.config.pad_token_id);
  if (pad) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(*pad));
  // qsenti never adds a BOS; llama.cpp must not either, or every text shifts.
  w.set_bool("tokenizer.ggml.add_bos_token", tc.value("add_bos_token", false));
  if (embedding)
    w.set_bool("tokenizer.ggml.add_eos_token", true);
  else if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean())
    w.set_bool("tokenizer.ggml.add_eos_token", tc["add_eos_token"].get<bool>());
  std::string chat;
  if (tc.contains("chat_template") && tc["chat_template"].is_string()) {
    chat = tc["chat_template"].get<std::string>();
  } else if (fs::exists(dir / "chat_template.jinja")) {
    std::ifstream in(dir / "chat_template.jinja");
    std::stringstream ss;
    ss << in.rdbuf();
    chat = ss.str();
  }
  if (!chat.empty()) w.set_string("tokenizer.chat_template", chat);
}

// ---------------------------------------------------------------- metadata

uint32_t file_type_of(GgufTensorType t) {
  switch (t) {
    case GgufTensorType::kF32: return 0;   // ALL_F32
    case GgufTensorType::kF16: return 1;   // MOSTLY_F16
    case GgufTensorType::kQ8_0: return 7;  // MOSTLY_Q8_0
    case GgufTensorType::kBF16: return 32; // MOSTLY_BF16
  }
  return 0;
}

void write_qsenti_metadata(GgufWriter& w, const Source& s) {
  w.set_string("qsenti.version", QSENTI_VERSION);
  w.set_string("qsenti.method", s.method);
  if (!s.labels.empty()) w.set_strings("qsenti.labels", s.labels);
  for (auto it = s.qsenti.begin(); it != s.qsenti.end(); ++it) {
    const std::string key = "qsenti." + it.key();
    const auto& v = it.value();
    if (v.is_string()) w.set_string(key, v.get<std::string>());
    else if (v.is_boolean()) w.set_bool(key, v.get<bool>());
    else if (v.is_number_integer()) w.set_i64(key, v.get<int64_t>());
    else if (v.is_number()) w.set_f64(key, v.get<double>());
    else if (v.is_array()) {
      std::vector<std::string> strings;
      for (const auto& x : v) strings.push_back(x.is_string() ? x.get<std::string>() : x.dump());
      w.set_strings(key, strings);
    } else {
      w.set_string(key, v.dump());
    }
  }
}

void write_hparams(GgufWriter& w, const Source& s, GgufTensorType type) {
  const Qwen3Config& c = s.config;
  const std::string a = "qwen3";
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", s.name);
  w.set_u32("general.file_type", file_type_of(type));
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.num_key_value_heads));
  // Always written: Qwen3's head_dim is not hidden / heads (0.6B: 16 x 128 != 1024).
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  if (s.kind == Kind::kClassifier) {
    w.set_u32(a + ".pooling_type", kPoolingRank);
    w.set_strings(a + ".classifier.output_labels", s.labels);
  } else if (s.kind == Kind::kEmbedding) {
    w.set_u32(a + ".pooling_type", kPoolingLast);
  }
}

void copy_file_atomically(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw InputError(from + ": cannot open");
  write_file_atomically(to, [&](std::ostream& out) { out << in.rdbuf(); });
}

// llama.cpp's LoRA adapter GGUF of a method B run (or a peft CAUSAL_LM
// adapter folder): the peft tensors as they are, renamed.
std::string export_lora_gguf(const GgufExportOptions& o, GgufTensorType type) {
  if (o.run.empty()) throw Error("--lora-only takes --run (a method B run or a peft CAUSAL_LM adapter)", ExitCode::kUsage);
  const RunManifest m = open_run_manifest(o.run);
  if (m.method != "lora")
    throw Error(o.run + ": --lora-only exports method B's adapter; this is a method " +
                    std::string(m.method == "classifier" ? "C run, whose trained score head no llama.cpp LoRA can carry"
                                                         : "A run, which has no adapter") +
                    " (export it without --lora-only)",
                ExitCode::kUsage);
  const std::string adir = run_adapter_dir(o.run, m);
  const AdapterConfig ac = AdapterConfig::load(adir);
  if (!ac.modules_to_save.empty())
    throw InputError(adir + ": modules_to_save (" + ac.modules_to_save.front() + ") cannot go into a LoRA GGUF");
  PredictOptions po;
  po.base_model = o.base;
  const Qwen3Config config = Qwen3Config::load(run_base_model(o.run, m, po));
  const std::string file = (fs::path(adir) / "adapter_model.safetensors").string();
  auto st = std::make_shared<SafetensorsFile>(file);

  GgufWriter w;
  w.set_string("general.architecture", "qwen3");
  w.set_string("general.type", "adapter");
  w.set_string("general.name", fs::path(o.run).lexically_normal().filename().string());
  w.set_u32("general.file_type", file_type_of(type));
  w.set_u32("general.quantization_version", 2);
  w.set_string("adapter.type", "lora");
  // llama.cpp scales by alpha / r; rsLoRA's alpha / sqrt(r) is that with
  // alpha * sqrt(r).
  w.set_f32("adapter.lora.alpha", static_cast<float>(ac.lora.scaling() * static_cast<double>(ac.lora.r)));
  write_qsenti_metadata(w, [&] {
    Source s;
    s.method = "lora";
    s.labels = m.labels;
    s.qsenti = {{"prompt.prefix", m.extra.value("template_prefix", "")},
                {"prompt.suffix", m.extra.value("template_suffix", "")},
                {"prompt.end_token", m.extra.value("end_token", "<|im_end|>")},
                {"label_words", m.extra.value("label_words", nlohmann::json::array())}};
    return s;
  }());
  static const std::string prefix = "base_model.model.";
  int n = 0;
  for (const auto& [key, e] : st->entries()) {
    const bool a = key.size() > 14 && key.compare(key.size() - 14, 14, ".lora_A.weight") == 0;
    const bool b = key.size() > 14 && key.compare(key.size() - 14, 14, ".lora_B.weight") == 0;
    if (!a && !b) throw InputError(file + ": tensor \"" + key + "\" is not a LoRA matrix; a LoRA GGUF cannot carry it");
    if (key.rfind(prefix, 0) != 0) throw InputError(file + ": tensor \"" + key + "\" lacks the base_model.model. prefix");
    const std::string module = key.substr(prefix.size(), key.size() - prefix.size() - 14);
    const auto base = gguf_tensor_name(module + ".weight");
    if (!base || base->rfind("blk.", 0) != 0)
      throw InputError(file + ": no llama.cpp tensor for the LoRA target \"" + module + "\"");
    // lora_A [r, in] and lora_B [out, r] as they are: in ggml order {in, r}
    // and {r, out}, what llama.cpp's adapter loader checks against the base.
    GgufTensorType t = type;
    if (t == GgufTensorType::kQ8_0 && e.shape.back() % kQ8_0BlockSize != 0) t = GgufTensorType::kF16;
    const std::string k = key;
    w.add_tensor(*base + (a ? ".lora_a" : ".lora_b"), t, e.shape, [st, k] { return st->tensor(k); });
    ++n;
  }
  if (n == 0) throw InputError(file + ": no LoRA tensors");
  (void)config;  // loaded to check that the base model is there and is Qwen3
  w.write(o.out);
  return "llama.cpp LoRA adapter (" + std::to_string(n / 2) + " matrices pairs, r " + std::to_string(ac.lora.r) +
         ", scale " + std::to_string(ac.lora.scaling()) + ", " + gguf_tensor_type_name(type) + ") in " + o.out +
         "; apply it to the GGUF of " + run_base_model(o.run, m, po);
}

}  // namespace

std::optional<std::string> gguf_tensor_name(const std::string& hf) {
  static const std::map<std::string, std::string> top = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                         {"model.norm.weight", "output_norm.weight"},
                                                         {"lm_head.weight", "output.weight"},
                                                         {"score.weight", "cls.output.weight"}};
  if (auto it = top.find(hf); it != top.end()) return it->second;
  static const std::string layers = "model.layers.";
  if (hf.rfind(layers, 0) != 0) return std::nullopt;
  const size_t dot = hf.find('.', layers.size());
  if (dot == std::string::npos) return std::nullopt;
  const std::string idx = hf.substr(layers.size(), dot - layers.size());
  if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::string rest = hf.substr(dot + 1);
  const size_t last = rest.rfind('.');
  if (last == std::string::npos) return std::nullopt;
  const std::string module = rest.substr(0, last), param = rest.substr(last + 1);
  static const std::map<std::string, std::string> per_layer = {
      {"input_layernorm", "attn_norm"},         {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},           {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},      {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"},      {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},            {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  auto it = per_layer.find(module);
  if (it == per_layer.end() || (param != "weight" && param != "bias")) return std::nullopt;
  return "blk." + idx + "." + it->second + "." + param;
}

std::string export_gguf(const GgufExportOptions& o) {
  if (o.run.empty() == o.model.empty()) throw Error("give one of --run RUN or --model DIR", ExitCode::kUsage);
  if (o.out.empty()) throw Error("--out FILE.gguf is required", ExitCode::kUsage);
  const GgufTensorType type = gguf_tensor_type_from_name(o.type);
  if (fs::is_directory(o.out)) throw Error(o.out + " is a folder; --out names the .gguf file to write", ExitCode::kUsage);
  if (fs::exists(o.out) && !o.overwrite)
    throw Error(o.out + " exists; choose another --out or add --overwrite", ExitCode::kUsage);
  if (!o.model.empty() && !fs::exists(fs::path(o.model) / "config.json"))
    throw InputError(o.model + ": no config.json; --model takes a Hugging Face model folder");
  if (!o.model.empty() && !o.base.empty()) throw Error("--base applies to --run only", ExitCode::kUsage);
  if (o.lora_only) return export_lora_gguf(o, type);

  Source s = o.model.empty() ? source_for_run(o) : source_for_model(o);
  if (s.kind == Kind::kClassifier && static_cast<int64_t>(s.labels.size()) != s.config.num_labels)
    throw InputError((o.run.empty() ? o.model : o.run) + ": " + std::to_string(s.labels.size()) +
                     " labels but the score head has " + std::to_string(s.config.num_labels) + " rows");

  GgufWriter w;
  write_hparams(w, s, type);
  write_tokenizer(w, s);
  write_qsenti_metadata(w, s);

  // Tensors in HF order, shapes checked against the config.
  const bool classifier = s.kind == Kind::kClassifier;
  int written = 0;
  for (const auto& [hf, shape] : qwen3_tensor_shapes(s.config, classifier)) {
    auto it = s.tensors.find(hf);
    if (it == s.tensors.end()) {
      // An embedding model needs no LM head (Qwen3-Embedding-4B/8B ship none).
      if (hf == "lm_head.weight" && s.kind == Kind::kEmbedding) continue;
      throw InputError((o.run.empty() ? o.model : o.run) + ": the checkpoint lacks tensor \"" + hf + "\"");
    }
    if (it->second.first != shape)
      throw InputError((o.run.empty() ? o.model : o.run) + ": tensor \"" + hf + "\" has shape " +
                       c10::str(c10::IntArrayRef(it->second.first)) + " but config.json implies " +
                       c10::str(c10::IntArrayRef(shape)));
    const auto name = gguf_tensor_name(hf);
    if (!name) throw Error("gguf export: no llama.cpp name for tensor \"" + hf + "\"");
    // 1-d tensors (norms, biases) stay f32 as llama.cpp's converter keeps
    // them; so does the tiny class head, whose rounding would go straight
    // into the probabilities. Q8_0 needs rows of whole blocks.
    GgufTensorType t = type;
    if (shape.size() < 2 || hf == "score.weight") t = GgufTensorType::kF32;
    else if (t == GgufTensorType::kQ8_0 && shape.back() % kQ8_0BlockSize != 0) t = GgufTensorType::kF16;
    w.add_tensor(*name, t, shape, it->second.second);
    ++written;
  }
  // A tied LM head (lm_head.weight saved beside the embeddings) is not
  // written: llama.cpp reuses token_embd when `output` is absent.

  std::string head_out;
  if (!s.head_file.empty()) {
    fs::path p = o.out;
    head_out = (p.parent_path() / (p.stem().string() + ".head.safetensors")).string();
    if (fs::exists(head_out) && !o.overwrite)
      throw Error(head_out + " exists (the method A head goes there); add --overwrite", ExitCode::kUsage);
  }
  w.write(o.out);
  if (!head_out.empty()) copy_file_atomically(s.head_file, head_out);

  const char* what = classifier ? "Qwen3 classifier (pooling RANK)"
                     : s.kind == Kind::kEmbedding ? "Qwen3 embedding model (pooling LAST)"
                                                  : "Qwen3 causal LM";
  std::string msg = std::string(what) + ", " + gguf_tensor_type_name(type) + ", " + std::to_string(written) +
                    " tensors" + (classifier ? ", " + std::to_string(s.labels.size()) + " labels" : "") + " in " + o.out;
  if (!head_out.empty())
    msg += "; llama.cpp does not run method A's head: it is in " + head_out +
           " (apply it to the L2-normalised LAST-pooled embeddings)";
  return msg;
}

}  // namespace qsenti
