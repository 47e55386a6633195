#pragma once
// Predictions as people read them on a terminal: aligned columns that
// count a Chinese character as two cells, and binary labels shown with their
// Chinese names ("positive 正面").
#include <string>
#include <vector>

#include "predict/prediction_io.h"

namespace qsenti {

// Terminal cells a UTF-8 string takes (East Asian wide characters count 2).
size_t display_width(const std::string& utf8);
// At most `cells` cells, with "…" when cut.
std::string truncate_to_width(const std::string& utf8, size_t cells);

// "positive 正面" for the binary label set, the label name otherwise.
std::string label_display(const std::vector<std::string>& labels, int64_t label);

// Rows of cells printed as aligned columns under a header, two spaces apart.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// One table row for a prediction: who, label, probability, every class's probability.
std::vector<std::string> prediction_cells(const std::string& who, const Prediction& p,
                                          const std::vector<std::string>& labels);
std::vector<std::string> prediction_header(const std::string& who_title, const std::vector<std::string>& labels);

// "0.9312"
std::string format_probability(double p);

}  // namespace qsenti

namespace qsenti {

// One text answered by one or more runs, ready to print.
struct RunAnswer {
  std::string run;  // name shown (run folder name)
  Prediction prediction;
};

// Texts answered by one run: a table (text, label, probabilities) under
// "run: NAME", or one JSON object per text with "run" added.
std::string render_answers(const std::string& run, const std::vector<Prediction>& predictions,
                           const std::vector<std::string>& labels, bool json);

// One text answered by several runs, and their ensemble (mean of
// probabilities) when given: a table with a row per run and an
// "ensemble (mean)" row, or one JSON object {"text", "runs": [...], "ensemble"}.
std::string render_comparison(const std::string& text, const std::vector<RunAnswer>& answers,
                              const Prediction* ensemble, const std::vector<std::string>& labels, bool json);

}  // namespace qsenti
