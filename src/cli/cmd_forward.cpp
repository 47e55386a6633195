// qsenti forward: one sequence through the model, numbers as JSON, for
// checking against Hugging Face by hand.
#include <iostream>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "cli/common.h"
#include "device/device.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "util/error.h"

namespace qsenti::cli {

namespace {

nlohmann::json to_json_2d(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat64).contiguous();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) {
    const double* p = c[i].data_ptr<double>();
    rows.push_back(std::vector<double>(p, p + c.size(1)));
  }
  return rows;
}

std::vector<double> to_vec(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

void add_forward_command(CLI::App& app) {
  struct Opts {
    std::string model, adapter, dtype = "fp32", ids, probe_ids, device = "auto";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("forward", "Run one token sequence through a model and print its numbers as JSON");
  cmd->add_option("--model", o->model, "Hugging Face model folder (config.json + safetensors) or repo id (Hub; modelscope:Org/Name for ModelScope)")->required();
  cmd->add_option("--adapter", o->adapter, "peft LoRA adapter folder to apply");
  cmd->add_option("--dtype", o->dtype, "compute dtype: fp32 or bf16")->capture_default_str();
  add_device_option(cmd, o->device);
  cmd->add_option("--ids", o->ids, "token ids, comma separated (e.g. 1,2,3)")->required();
  cmd->add_option("--probe-ids", o->probe_ids, "vocabulary ids whose last-token logits to print (e.g. 0,100)");
  cmd->footer(
      "Prints one JSON object: last_hidden_state (per token, after the final norm), logsumexp_last,\n"
      "probe_logits_last, per_token_nll (for each next token), embedding_l2 (the last token's hidden\n"
      "state, L2-normalised) and, for a model with a classification head, score_logits_last (then\n"
      "without the LM numbers: a sequence classifier has no LM head).");
  cmd->callback([o] {
    o->model = resolve_model_source(o->model, std::cerr);  // a Hub repo id: its cached snapshot
    const torch::Dtype dtype = parse_dtype(o->dtype);
    const auto ids = parse_int_list(o->ids, "--ids");
    if (ids.empty()) throw Error("--ids: give at least one token id", ExitCode::kUsage);
    const auto probes = o->probe_ids.empty() ? std::vector<int64_t>{} : parse_int_list(o->probe_ids, "--probe-ids");
    LoadOptions lo;
    lo.dtype = dtype;
    lo.device = resolve_device(o->device);
    Qwen3 model = load_qwen3(o->model, lo);
    if (!o->adapter.empty()) load_peft_adapter(model, o->adapter);
    model->eval();
    const int64_t V = model->config.vocab_size;
    for (int64_t id : ids)
      if (id < 0 || id >= V) throw Error("--ids: token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(V) + ")", ExitCode::kUsage);
    for (int64_t id : probes)
      if (id < 0 || id >= V) throw Error("--probe-ids: id " + std::to_string(id) + " is outside the vocabulary", ExitCode::kUsage);

    torch::NoGradGuard ng;
    torch::Tensor input = torch::tensor(ids, torch::kInt64).unsqueeze(0);
    ForwardArgs args;
    args.input_ids = input;
    torch::Tensor hidden = model->forward(args).last_hidden_state[0];  // [T, H]
    const int64_t T = hidden.size(0);
    nlohmann::json out;
    out["model"] = o->model;
    out["dtype"] = dtype_name(dtype);
    out["device"] = device_string(lo.device);
    out["ids"] = ids;
    out["last_hidden_state"] = to_json_2d(hidden);
    if (model->has_lm_head) {  // a sequence classifier has none
      torch::Tensor logits = model->lm_logits(hidden).to(torch::kFloat32);  // [T, V]
      torch::Tensor logp = torch::log_softmax(logits, -1);
      out["logsumexp_last"] = logits[T - 1].logsumexp(0).item<double>();
      std::vector<double> probe_values;
      for (int64_t id : probes) probe_values.push_back(logits[T - 1][id].item<double>());
      out["probe_ids"] = probes;
      out["probe_logits_last"] = probe_values;
      std::vector<double> nll;
      for (int64_t t = 0; t + 1 < T; ++t) nll.push_back(-logp[t][ids[t + 1]].item<double>());
      out["per_token_nll"] = nll;
    }
    torch::Tensor last = hidden[T - 1].to(torch::kFloat32);
    out["embedding_l2"] = to_vec(last / last.norm().clamp_min(1e-12));
    if (model->has_score()) out["score_logits_last"] = to_vec(model->score_logits(hidden[T - 1]));
    std::cout << out.dump() << "\n";
  });
}

}  // namespace qsenti::cli
