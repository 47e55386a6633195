#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace qsenti {

double LrSchedule::lr_at(int64_t step) const {
  // transformers' *_schedule_with_warmup: the first update (step 0) of a
  // warm-up is at lr 0, the last step of the decay reaches 0 only after it.
  if (warmup_steps > 0 && step < warmup_steps)
    return peak_lr * static_cast<double>(step) / static_cast<double>(warmup_steps);
  if (kind == "constant") return peak_lr;
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
  if (kind == "cosine") return peak_lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  if (kind == "linear") return peak_lr * (1.0 - progress);
  throw Error("unknown learning-rate schedule '" + kind + "' (expected cosine, linear or constant)");
}

int64_t warmup_steps_for(double ratio, int64_t total_steps) {
  if (ratio <= 0) return 0;
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(ratio * static_cast<double>(total_steps))));
}

}  // namespace qsenti
