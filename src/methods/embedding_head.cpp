#include "methods/embedding_head.h"

#include <map>

#include "io/safetensors.h"
#include "util/error.h"

namespace qsenti {

EmbeddingHeadImpl::EmbeddingHeadImpl(const HeadSpec& spec) : spec_(spec) {
  if (spec_.input_dim <= 0 || spec_.num_labels < 2)
    throw Error("embedding head: needs a positive input size and at least 2 labels");
  if (spec_.kind == "mlp") {
    first = register_module("0", torch::nn::Linear(spec_.input_dim, spec_.hidden));
    dropout = register_module("2", torch::nn::Dropout(spec_.dropout));
    second = register_module("3", torch::nn::Linear(spec_.hidden, spec_.num_labels));
  } else if (spec_.kind == "logreg") {
    first = register_module("0", torch::nn::Linear(spec_.input_dim, spec_.num_labels));
  } else {
    throw Error("embedding head: unknown kind \"" + spec_.kind + "\" (mlp or logreg)", ExitCode::kUsage);
  }
}

torch::Tensor EmbeddingHeadImpl::forward(const torch::Tensor& x) {
  if (spec_.kind == "logreg") return first(x);
  return second(dropout(torch::relu(first(x))));
}

void save_head(const EmbeddingHead& head, const std::string& path) {
  const HeadSpec& s = head->spec();
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : head->named_parameters()) tensors[p.key()] = p.value().detach().to(torch::kFloat32).contiguous();
  save_safetensors(path, tensors,
                   {{"format", "pt"},
                    {"head", s.kind},
                    {"input_dim", std::to_string(s.input_dim)},
                    {"hidden", std::to_string(s.hidden)},
                    {"num_labels", std::to_string(s.num_labels)},
                    {"dropout", std::to_string(s.dropout)}});
}

EmbeddingHead load_head(const std::string& path) {
  SafetensorsFile file(path);
  const auto& meta = file.metadata();
  auto get = [&](const std::string& key) -> std::string {
    auto it = meta.find(key);
    if (it == meta.end()) throw InputError(path + ": metadata \"" + key + "\" is missing (not a qsenti head?)");
    return it->second;
  };
  HeadSpec s;
  try {
    s.kind = get("head");
    s.input_dim = std::stoll(get("input_dim"));
    s.hidden = std::stoll(get("hidden"));
    s.num_labels = std::stoll(get("num_labels"));
    s.dropout = std::stod(get("dropout"));
  } catch (const std::logic_error&) {
    throw InputError(path + ": malformed head metadata");
  }
  if (s.kind != "mlp" && s.kind != "logreg") throw InputError(path + ": unknown head \"" + s.kind + "\"");
  EmbeddingHead head(s);
  torch::NoGradGuard ng;
  for (auto& p : head->named_parameters()) {
    if (!file.contains(p.key())) throw InputError(path + ": tensor \"" + p.key() + "\" is missing");
    torch::Tensor t = file.tensor(p.key());
    if (t.sizes() != p.value().sizes())
      throw InputError(path + ": tensor \"" + p.key() + "\" has shape " + c10::str(t.sizes()) + ", expected " +
                       c10::str(p.value().sizes()));
    p.value().copy_(t.to(torch::kFloat32));
  }
  head->eval();
  return head;
}

}  // namespace qsenti
