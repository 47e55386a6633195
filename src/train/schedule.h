#pragma once
// Learning-rate schedules: linear warm-up from 0 to the peak, then cosine or
// linear decay to 0 at the last step, or constant (as transformers'
// get_cosine/linear/constant_schedule_with_warmup).
#include <cstdint>
#include <string>

namespace qsenti {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | linear | constant
  double peak_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // The learning rate for optimizer step `step` (0-based: the first update
  // uses lr_at(0)). Throws Error for an unknown kind.
  double lr_at(int64_t step) const;
};

// round(ratio * total_steps), at least 1 when ratio > 0.
int64_t warmup_steps_for(double ratio, int64_t total_steps);

}  // namespace qsenti
