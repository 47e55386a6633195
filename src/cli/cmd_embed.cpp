// qsenti embed: the vectors of method A for a data file, for use elsewhere.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "cli/common.h"
#include "device/device.h"
#include "io/dataset.h"
#include "io/safetensors.h"
#include "methods/embedder.h"
#include "methods/embedding_cache.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/runtime.h"

namespace qsenti::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void add_embed_command(CLI::App& app) {
  struct Opts {
    std::string model, data, out, format = "auto", instruction, dtype = "auto", cache_dir, device = "auto";
    int64_t max_length = 256, batch_size = 16;
    bool json_lines = false, no_cache = false, skip_bad_rows = false, quiet = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("embed", "Write the text vectors of a Qwen3-Embedding model for a data file");
  cmd->add_option("--model", o->model, "embedding model folder (Hugging Face layout) or repo id (Qwen/Qwen3-Embedding-0.6B; modelscope:Org/Name for ModelScope)")->required();
  cmd->add_option("--data", o->data, "texts: TSV/CSV/JSON lines (labels optional) or plain text, one per line")->required();
  cmd->add_option("--out", o->out, "output file: safetensors, or JSON lines with --json-lines or a .jsonl name")->required();
  cmd->add_option("--format", o->format, "input data format: auto (from the extension), tsv, csv, jsonl, plain")->capture_default_str();
  cmd->add_flag("--json-lines", o->json_lines, "write JSON lines {\"line\", \"text\", \"label\", \"embedding\"} instead of safetensors");
  cmd->add_option("--instruction", o->instruction, "task text; embeds \"Instruct: {task}\\nQuery:{text}\" (model card recipe)");
  cmd->add_option("--max-length", o->max_length, "tokens per text at most, including the appended <|endoftext|>")->check(positive())->capture_default_str();
  add_dtype_option(cmd, o->dtype, "auto (bf16 for real-size models, fp32 for small ones), fp32 or bf16");
  add_device_option(cmd, o->device);
  cmd->add_option("--batch-size", o->batch_size, "texts per forward pass (grouped by length)")->check(positive())->capture_default_str();
  cmd->add_option("--cache-dir", o->cache_dir, "embedding cache folder (default $QSENTI_CACHE, $XDG_CACHE_HOME/qsenti or ~/.cache/qsenti)");
  cmd->add_flag("--no-cache", o->no_cache, "neither read nor write the embedding cache");
  cmd->add_flag("--skip-bad-rows", o->skip_bad_rows, "skip malformed rows (reported) instead of stopping");
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(non_negative())->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->footer(
      "Safetensors output: \"embeddings\" fp32 [N, d] (unit length), \"lines\" int64 [N] (source line of\n"
      "each row) and, when every row has a label, \"labels\" int64 [N] (class indices); metadata holds\n"
      "label_names (JSON), model, model_fingerprint, instruction, max_length, dtype and source.\n"
      "Rows keep the order of the input file. Vectors are cached: embedding the same texts again\n"
      "(or training method A on them) runs no forward pass.");
  cmd->callback([o] {
    resolve_device(o->device);  // a GPU asked for where there is none fails before anything loads
    o->model = resolve_model_source(o->model, std::cerr);  // a Hub repo id: its cached snapshot
    if (o->threads > 0) init_runtime(o->threads);
    if (o->batch_size < 1) throw Error("--batch-size must be at least 1", ExitCode::kUsage);
    const bool jsonl = o->json_lines || ends_with(o->out, ".jsonl") || ends_with(o->out, ".ndjson");

    // Rows, labelled or not.
    RowReader reader(o->data, parse_data_format(o->format), o->skip_bad_rows);
    std::vector<std::string> texts, label_texts;
    std::vector<int64_t> lines;
    bool all_labelled = true;
    Row row;
    while (reader.next(row)) {
      texts.push_back(row.text);
      lines.push_back(row.line);
      if (row.label_text) label_texts.push_back(*row.label_text);
      else all_labelled = false;
    }
    const std::string bad = describe_bad_rows(reader.source(), reader.bad_rows());
    if (!bad.empty()) std::cerr << "warning: " << bad << "\n";
    if (texts.empty()) throw InputError(o->data + ": no texts to embed");
    all_labelled = all_labelled && !label_texts.empty();
    LabelSet labels;
    std::vector<int64_t> label_ids;
    if (all_labelled) {
      labels = LabelSet::infer(label_texts);
      for (const auto& l : label_texts) label_ids.push_back(*labels.index_of(l));
    }

    EmbedderOptions eo;
    eo.instruction = o->instruction;
    eo.max_length = o->max_length;
    eo.dtype = o->dtype;
    eo.device = o->device;
    eo.batch_size = o->batch_size;
    eo.progress = !o->quiet;
    Embedder embedder(o->model, eo);
    std::unique_ptr<EmbeddingCache> cache;
    if (!o->no_cache)
      cache = std::make_unique<EmbeddingCache>(resolve_cache_root(o->cache_dir), embedder.identity(), embedder.dim(), true);
    CachedEmbedStats cs;
    torch::Tensor x = embed_with_cache(embedder, cache.get(), texts, &cs);
    std::cerr << describe(cs) << "\n";

    if (jsonl) {
      write_file_atomically(o->out, [&](std::ostream& out) {
        const float* p = x.data_ptr<float>();
        const int64_t d = x.size(1);
        for (size_t i = 0; i < texts.size(); ++i) {
          nlohmann::json j;
          j["line"] = lines[i];
          j["text"] = texts[i];
          if (all_labelled) j["label"] = labels.name(label_ids[i]);
          j["embedding"] = std::vector<float>(p + static_cast<int64_t>(i) * d, p + static_cast<int64_t>(i + 1) * d);
          out << j.dump() << "\n";
        }
      });
    } else {
      std::map<std::string, torch::Tensor> tensors{{"embeddings", x},
                                                   {"lines", torch::tensor(lines, torch::kInt64)}};
      if (all_labelled) tensors["labels"] = torch::tensor(label_ids, torch::kInt64);
      std::map<std::string, std::string> meta{{"format", "pt"},
                                              {"model", std::filesystem::absolute(o->model).lexically_normal().string()},
                                              {"model_fingerprint", embedder.model_fingerprint()},
                                              {"instruction", o->instruction},
                                              {"max_length", std::to_string(o->max_length)},
                                              {"dtype", embedder.dtype_name()},
                                              {"source", o->data}};
      if (all_labelled) meta["label_names"] = nlohmann::json(labels.names()).dump();
      save_safetensors(o->out, tensors, meta);
    }
    std::cout << "wrote " << texts.size() << " vectors of " << embedder.dim() << " dims"
              << (all_labelled ? " with labels" : "") << " to " << o->out << (jsonl ? " (JSON lines)" : " (safetensors)")
              << "\n";
  });
}

}  // namespace qsenti::cli
