#include "dist/grad_sync.h"

#include <chrono>

#include "util/error.h"

namespace qsenti::dist {

GradientSync::GradientSync(ProcessGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : group_(group), params_(std::move(params)), slots_(params_.size()) {
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / 4);
  std::vector<int64_t> sizes;
  for (size_t k = params_.size(); k-- > 0;) {
    const int64_t n = params_[k].numel();
    if (buckets_.empty() || (sizes.back() > 0 && sizes.back() + n > cap)) {
      buckets_.emplace_back();
      sizes.push_back(0);
    }
    slots_[k] = {buckets_.size() - 1, sizes.back(), n, false};
    sizes.back() += n;
    buckets_.back().params.push_back(k);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].flat = torch::zeros(
        {sizes[b]}, torch::TensorOptions().dtype(torch::kFloat32).device(params_[buckets_[b].params[0]].device()));
    bytes_ += sizes[b] * 4;
  }
  for (size_t i = 0; i < params_.size(); ++i)
    hook_ids_.push_back(params_[i].register_hook([this, i](torch::Tensor grad) { on_grad(i, grad); }));
}

GradientSync::~GradientSync() {
  for (size_t i = 0; i < params_.size() && i < hook_ids_.size(); ++i) params_[i].remove_hook(hook_ids_[i]);
}

void GradientSync::arm() {
  armed_ = true;
  next_launch_ = 0;
  for (auto& s : slots_) s.ready = false;
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
  }
}

void GradientSync::fill_from_grad(size_t i) {
  Slot& s = slots_[i];
  torch::Tensor dst = buckets_[s.bucket].flat.narrow(0, s.offset, s.numel);
  const torch::Tensor& g = params_[i].grad();
  if (g.defined()) dst.copy_(g.reshape(-1));
  else dst.zero_();
}

// The hook sees this backward's gradient before it is added to .grad, which
// holds the earlier micro-batches': the bucket gets their sum.
void GradientSync::on_grad(size_t i, const torch::Tensor& grad) {
  if (!armed_) return;
  Slot& s = slots_[i];
  if (s.ready) return;
  torch::NoGradGuard no_grad;
  torch::Tensor dst = buckets_[s.bucket].flat.narrow(0, s.offset, s.numel);
  dst.copy_(grad.reshape(-1));
  const torch::Tensor& g = params_[i].grad();
  if (g.defined()) dst.add_(g.reshape(-1));
  s.ready = true;
  buckets_[s.bucket].pending -= 1;
  launch_ready();
}

void GradientSync::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(next_launch_++);
}

void GradientSync::launch(size_t b) { buckets_[b].work = group_.allreduce_sum_async(buckets_[b].flat); }

void GradientSync::finish() {
  if (!armed_) throw Error("GradientSync::finish without arm");
  torch::NoGradGuard no_grad;
  // Parameters no gradient reached on this rank (no examples, or unused).
  for (size_t b = next_launch_; b < buckets_.size(); ++b) {
    for (size_t i : buckets_[b].params)
      if (!slots_[i].ready) {
        fill_from_grad(i);
        slots_[i].ready = true;
      }
    buckets_[b].pending = 0;
  }
  launch_ready();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : buckets_) b.work->wait();
  last_wait_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    torch::Tensor sum = buckets_[s.bucket].flat.narrow(0, s.offset, s.numel).view(params_[i].sizes());
    if (params_[i].grad().defined()) params_[i].mutable_grad().copy_(sum);
    else params_[i].mutable_grad() = sum.to(params_[i].dtype()).clone();
  }
  armed_ = false;
}

}  // namespace qsenti::dist
