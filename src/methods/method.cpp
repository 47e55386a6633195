#include "methods/method.h"

#include "util/error.h"

namespace qsenti {

const std::vector<const Method*>& all_methods() {
  static const std::vector<const Method*> methods{&embedding_method(), &lora_method(), &classifier_method()};
  return methods;
}

const Method* find_method(const std::string& name) {
  for (const Method* m : all_methods())
    if (m->name == name) return m;
  return nullptr;
}

std::string method_names() {
  const auto& all = all_methods();
  std::string out;
  for (size_t i = 0; i < all.size(); ++i)
    out += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + all[i]->name;
  return out;
}

const Method& method_named(const std::string& name, const std::string& where) {
  if (const Method* m = find_method(name)) return *m;
  throw InputError(where + ": unknown method \"" + name + "\" (" + method_names() + ")");
}

const std::vector<std::string>& trainer_options() {
  static const std::vector<std::string> options{"--resume",     "--schedule",   "--warmup-ratio",
                                                "--grad-accum", "--max-grad-norm", "--eval-every",
                                                "--save-every", "--keep-checkpoints", "--save-total-limit"};
  return options;
}

const std::vector<std::string>& backbone_options() {
  static const std::vector<std::string> options{"--grad-checkpointing", "--lora-r", "--lora-alpha", "--lora-dropout",
                                                "--rslora", "--lora-targets"};
  return options;
}

}  // namespace qsenti
