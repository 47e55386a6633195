#pragma once
// Asking for the model size on a terminal, as the original scripts did when
// run without one ("1) 0.6B  2) 4B  3) 8B").
#include <iosfwd>
#include <optional>
#include <string>

namespace qsenti::cli {

bool stdin_is_terminal();
bool stdout_is_terminal();

// Shows the sizes (with the base-model folders found for `method` under
// `models_dir` marked) and reads a choice: a number or a size. Asks again on
// an unknown answer; nullopt on q or end of input.
std::optional<std::string> ask_model_size(std::istream& in, std::ostream& out, const std::string& method,
                                          const std::string& models_dir);

// Fills in what `qsenti train` may leave out: asks for the size on a
// terminal when neither --model-size nor --model is given; a missing
// --model becomes the conventional base-model folder, a missing --out the
// conventional run folder (models/<method>-<size>, or models/<method>-<name of
// the model folder> for a custom model). Notes go to `log`.
void complete_train_paths(std::string& model, std::string& out, std::string& model_size, const std::string& method,
                          bool interactive, std::istream& in, std::ostream& prompt_out, std::ostream& log);

}  // namespace qsenti::cli
