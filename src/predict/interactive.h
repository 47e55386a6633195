#pragma once
// `qsenti predict` with no text: the original's interactive loop. It asks
// which trained run to use (method and size, from the runs found), then
// reads texts one a line and answers each. Commands at the text prompt:
//   q (quit, exit)  leave          models   list the runs found
//   switch          choose again   compare  run the next text through every
//   help            the commands            run and show the ensemble
//   compare TEXT    compare one text directly
// End of input (Ctrl-D, or the end of a pipe) leaves too. Prompts are shown
// only on a terminal, so a pipe gets answers alone, one per text.
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "methods/classifier.h"
#include "predict/run_discovery.h"

namespace qsenti {

using ClassifierLoader = std::function<std::unique_ptr<TextClassifier>(const std::string& run_dir)>;

struct InteractiveOptions {
  std::vector<RunInfo> runs;     // what the menu offers
  std::string initial_run;       // start with this run folder (no menu); may be outside `runs`
  ClassifierLoader load;         // opens a run (tests pass fakes)
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  bool prompts = false;          // show the menu and prompts (a terminal)
  bool json = false;             // answers as JSON lines instead of tables
  bool compare_all = false;      // --load-all: no menu, every text is compared
};

class InteractiveSession {
 public:
  explicit InteractiveSession(InteractiveOptions options);
  // Runs until q or end of input; returns the number of texts answered.
  int64_t run();

  // The pieces run() uses, for tests and other front ends.
  // Asks for a run until one is chosen; false at q or end of input.
  bool choose_run();
  // Answers `text` with the current run; writes to the output stream.
  void predict(const std::string& text);
  // Answers `text` with every run and their ensemble.
  void compare(const std::string& text);
  void list_models();
  const std::string& current_run() const { return current_; }

 private:
  TextClassifier& classifier(const std::string& dir);  // loaded once, kept
  bool read_line(const std::string& prompt, std::string& line);
  std::string name_of(const std::string& dir) const;

  InteractiveOptions o_;
  std::istream& in_;
  std::ostream& out_;
  std::map<std::string, std::unique_ptr<TextClassifier>> loaded_;
  std::string current_;
};

}  // namespace qsenti
