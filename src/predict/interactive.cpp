#include "predict/interactive.h"

#include <filesystem>

#include "io/labels.h"
#include "predict/ensemble.h"
#include "predict/prediction_table.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

InteractiveSession::InteractiveSession(InteractiveOptions options)
    : o_(std::move(options)), in_(o_.in ? *o_.in : std::cin), out_(o_.out ? *o_.out : std::cout) {
  if (!o_.load) o_.load = [](const std::string& dir) { return load_classifier(dir); };
  current_ = o_.initial_run;
}

bool InteractiveSession::read_line(const std::string& prompt, std::string& line) {
  if (o_.prompts) out_ << prompt << std::flush;
  if (!std::getline(in_, line)) {
    if (o_.prompts) out_ << "\n";
    return false;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  line = std::string(trim_ascii(line));
  return true;
}

std::string InteractiveSession::name_of(const std::string& dir) const {
  for (const auto& r : o_.runs)
    if (r.dir == dir) return r.name();
  RunInfo info{dir, {}};
  return info.name();
}

TextClassifier& InteractiveSession::classifier(const std::string& dir) {
  auto it = loaded_.find(dir);
  if (it == loaded_.end()) {
    if (o_.prompts) out_ << "loading " << dir << " ...\n" << std::flush;
    it = loaded_.emplace(dir, o_.load(dir)).first;
  }
  return *it->second;
}

void InteractiveSession::list_models() {
  if (o_.runs.empty()) {
    out_ << "no trained runs found\n";
    return;
  }
  for (size_t i = 0; i < o_.runs.size(); ++i) {
    const auto& r = o_.runs[i];
    out_ << (r.dir == current_ ? " *" : "  ") << (i + 1) << ") " << r.name() << "  " << r.describe() << "  [" << r.dir
         << "]\n";
  }
}

bool InteractiveSession::choose_run() {
  if (o_.runs.empty()) throw InputError("no trained runs to choose from; train one with `qsenti train` or give --run");
  if (o_.runs.size() == 1) {
    current_ = o_.runs[0].dir;
    if (o_.prompts) out_ << "using the only run found: " << o_.runs[0].name() << " (" << o_.runs[0].describe() << ")\n";
    return true;
  }
  if (o_.prompts) {
    out_ << "Trained runs (method, size):\n";
    list_models();
  }
  std::string answer;
  while (read_line("Choose a run [1-" + std::to_string(o_.runs.size()) + "] or its name (q to quit): ", answer)) {
    if (answer.empty()) continue;
    if (answer == "q" || answer == "quit" || answer == "exit") return false;
    // A number, a folder name ("embedding-0.6B") or "method size".
    std::string wanted = answer;
    for (auto& c : wanted)
      if (c == ' ') c = '-';
    for (size_t i = 0; i < o_.runs.size(); ++i) {
      const auto& r = o_.runs[i];
      if (answer == std::to_string(i + 1) || wanted == r.name() ||
          wanted == r.manifest.method + "-" + r.manifest.model_size) {
        current_ = r.dir;
        if (o_.prompts) out_ << "using " << r.name() << "\n";
        return true;
      }
    }
    out_ << "no run \"" << answer << "\": answer with a number from 1 to " << o_.runs.size() << "\n";
  }
  return false;
}

void InteractiveSession::predict(const std::string& text) {
  TextClassifier& c = classifier(current_);
  auto preds = predictions_from(c.predict_proba({text}));
  preds[0].text = text;
  out_ << render_answers(name_of(current_), preds, c.labels(), o_.json) << std::flush;
}

void InteractiveSession::compare(const std::string& text) {
  std::vector<std::string> dirs;
  for (const auto& r : o_.runs) dirs.push_back(r.dir);
  if (!current_.empty() && std::find(dirs.begin(), dirs.end(), current_) == dirs.end()) dirs.insert(dirs.begin(), current_);
  if (dirs.empty()) {
    out_ << "no runs to compare\n";
    return;
  }
  std::vector<RunAnswer> answers;
  std::vector<torch::Tensor> probs;
  std::vector<const TextClassifier*> members;
  std::vector<std::string> names;
  for (const auto& d : dirs) {
    TextClassifier& c = classifier(d);
    torch::Tensor p = c.predict_proba({text});
    auto pred = predictions_from(p)[0];
    pred.text = text;
    answers.push_back({name_of(d), pred});
    probs.push_back(p);
    members.push_back(&c);
    names.push_back(name_of(d));
  }
  bool same = true;
  for (const auto* m : members) same = same && m->labels() == members[0]->labels();
  if (same) {
    Prediction ensemble = predictions_from(mean_probabilities(probs))[0];
    ensemble.text = text;
    out_ << render_comparison(text, answers, &ensemble, members[0]->labels(), o_.json) << std::flush;
    return;
  }
  // Different label sets: each answer on its own, no average.
  for (size_t i = 0; i < answers.size(); ++i)
    out_ << render_answers(answers[i].run, {answers[i].prediction}, members[i]->labels(), o_.json);
  out_ << "no ensemble: these runs have different label sets\n" << std::flush;
}

int64_t InteractiveSession::run() {
  if (!o_.compare_all && current_.empty() && !choose_run()) return 0;
  if (o_.prompts)
    out_ << (o_.compare_all ? "Every text is answered by all runs and their ensemble.\n" : "")
         << "Type a text and press Enter. Commands: q quit, models, switch, compare, help.\n";
  int64_t answered = 0;
  bool compare_next = false;
  std::string line;
  while (read_line(compare_next ? "text to compare> " : "text> ", line)) {
    if (line.empty()) continue;
    if (line == "q" || line == "quit" || line == "exit") break;
    if (line == "help" || line == "?") {
      out_ << "q: quit   models: list the runs   switch: choose another run\n"
              "compare: answer the next text with every run and their ensemble (or: compare TEXT)\n";
      continue;
    }
    if (line == "models") {
      list_models();
      continue;
    }
    if (line == "switch") {
      o_.compare_all = false;
      if (!choose_run()) break;
      continue;
    }
    if (line == "compare") {
      compare_next = true;
      continue;
    }
    try {
      if (line.rfind("compare ", 0) == 0) {
        compare(std::string(trim_ascii(line.substr(8))));
      } else if (compare_next || o_.compare_all) {
        compare(line);
      } else {
        predict(line);
      }
      ++answered;
    } catch (const Error& e) {
      // One bad run or text should not end the session.
      out_ << "error: " << e.what() << "\n";
    }
    compare_next = false;
  }
  return answered;
}

}  // namespace qsenti
