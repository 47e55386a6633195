// qsenti info: what a model folder holds, read from headers only.
#include <filesystem>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "device/system_info.h"
#include "io/weight_store.h"
#include "model/config.h"
#include "model/loading.h"
#include "util/error.h"

namespace qsenti::cli {

void add_info_command(CLI::App& app) {
  struct Opts {
    std::string dir;
    bool json = false;
    bool system = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "info", "Describe a model folder (architecture, sizes, parameters, dtype, bytes) or, with --system, this machine");
  cmd->add_option("dir", o->dir, "Hugging Face model folder, or a repo id (Qwen/Qwen3-0.6B, modelscope:Qwen/Qwen3-0.6B)");
  cmd->add_flag("--system", o->system,
                "LibTorch version and build flags, threads, CPU features, CUDA / cuDNN / NCCL and the GPUs");
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    if (o->system) {
      const nlohmann::json j = system_info();
      std::cout << (o->json ? j.dump(2) + "\n" : format_system_info(j));
      return;
    }
    if (o->dir.empty()) throw Error("info: give a model folder, or --system", ExitCode::kUsage);
    o->dir = resolve_model_source(o->dir, std::cerr);  // a repo id: its downloaded folder
    Qwen3Config c = Qwen3Config::load(o->dir);
    WeightStore store(o->dir);
    int64_t params = 0;
    std::map<std::string, int64_t> by_dtype;
    for (const auto& n : store.names()) {
      const auto& e = store.entry(n);
      params += e.numel();
      by_dtype[dtype_name(e.dtype)] += e.numel();
    }
    // Check the checkpoint against what the config implies.
    std::vector<std::string> missing;
    for (const auto& [name, shape] : qwen3_tensor_shapes(c, c.is_sequence_classifier())) {
      std::string key = store.contains(name) ? name : (name.rfind("model.", 0) == 0 ? name.substr(6) : name);
      if (!store.contains(key)) missing.push_back(name);
      else if (store.entry(key).shape != shape)
        throw InputError(store.file_of(key) + ": tensor \"" + key + "\" has shape " +
                         c10::str(c10::IntArrayRef(store.entry(key).shape)) + ", config implies " +
                         c10::str(c10::IntArrayRef(shape)));
    }
    std::string dtypes;
    for (const auto& [d, n] : by_dtype) dtypes += (dtypes.empty() ? "" : ", ") + d;
    nlohmann::json j = {
        {"path", o->dir},
        {"architecture", c.architectures.empty() ? "" : c.architectures[0]},
        {"model_type", c.model_type},
        {"hidden_size", c.hidden_size},
        {"num_hidden_layers", c.num_hidden_layers},
        {"num_attention_heads", c.num_attention_heads},
        {"num_key_value_heads", c.num_key_value_heads},
        {"head_dim", c.head_dim},
        {"intermediate_size", c.intermediate_size},
        {"vocab_size", c.vocab_size},
        {"tie_word_embeddings", c.tie_word_embeddings},
        {"rope_theta", c.rope_theta},
        {"parameters", params},
        {"dtype", dtypes},
        {"weight_bytes", store.total_bytes()},
        {"files", store.files().size()},
        {"missing_tensors", missing},
    };
    if (c.is_sequence_classifier()) j["num_labels"] = c.num_labels;
    if (o->json) {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "model         " << o->dir << "\n"
                << "architecture  " << j["architecture"].get<std::string>() << " (" << c.model_type << ")\n"
                << "layers        " << c.num_hidden_layers << ", hidden " << c.hidden_size << ", intermediate "
                << c.intermediate_size << "\n"
                << "attention     " << c.num_attention_heads << " query / " << c.num_key_value_heads
                << " key-value heads, head_dim " << c.head_dim << ", rope_theta " << c.rope_theta << "\n"
                << "vocabulary    " << c.vocab_size << (c.tie_word_embeddings ? ", tied LM head" : ", own LM head")
                << "\n";
      if (c.is_sequence_classifier()) std::cout << "labels        " << c.num_labels << "\n";
      std::cout << "parameters    " << params << " (" << human_count(params) << ")\n"
                << "dtype         " << dtypes << "\n"
                << "weights       " << human_bytes(store.total_bytes()) << " in " << store.files().size()
                << " file(s)\n";
      if (!missing.empty()) std::cout << "MISSING       " << missing.size() << " tensor(s), e.g. " << missing[0] << "\n";
    }
    if (!missing.empty()) throw InputError(o->dir + ": checkpoint lacks " + std::to_string(missing.size()) + " tensor(s), e.g. \"" + missing[0] + "\"");
  });
}

}  // namespace qsenti::cli
