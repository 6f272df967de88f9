#include "engine/params.h"

#include <atomic>
#include <cmath>

namespace steady {

int ParamStore::add_param(const std::string& name, const Shape& shape, Init init, int64_t fan_in,
                          int64_t fan_out) {
  STEADY_CHECK(!finalized_, "params: '", name, "' declared after finalize()");
  params_.push_back({name, shape, init, fan_in, fan_out, num_values_, true});
  num_values_ += shape_numel(shape);
  return static_cast<int>(params_.size()) - 1;
}

int ParamStore::add_buffer(const std::string& name, const Shape& shape, Init init) {
  STEADY_CHECK(!finalized_, "params: '", name, "' declared after finalize()");
  buffers_.push_back({name, shape, init, 1, 1, num_buffer_values_, false});
  num_buffer_values_ += shape_numel(shape);
  return static_cast<int>(buffers_.size()) - 1;
}

namespace {
// Initial values drawn on the host, in declaration order, so every device starts the same.
void init_values(std::vector<float>& out, const ParamEntry& e, Rng& rng) {
  int64_t n = shape_numel(e.shape);
  float* p = out.data() + e.offset;
  switch (e.init) {
    case Init::Zeros:
      for (int64_t i = 0; i < n; ++i) p[i] = 0.f;
      break;
    case Init::Ones:
      for (int64_t i = 0; i < n; ++i) p[i] = 1.f;
      break;
    case Init::HeNormal: {
      double std = std::sqrt(2.0 / static_cast<double>(e.fan_in));
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(std * rng.normal());
      break;
    }
    case Init::XavierUniform: {
      double a = std::sqrt(6.0 / static_cast<double>(e.fan_in + e.fan_out));
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(rng.uniform(-a, a));
      break;
    }
  }
}
}  // namespace

void ParamStore::finalize(Device device, Rng& rng) {
  STEADY_CHECK(!finalized_, "params: finalize() called twice");
  std::vector<float> host(num_values_), host_buffers(num_buffer_values_);
  for (const ParamEntry& e : params_) init_values(host, e, rng);
  for (const ParamEntry& e : buffers_) init_values(host_buffers, e, rng);
  device_ = device;
  values = Tensor::from_vector(host, {num_values_}, device);
  grads = Tensor::zeros({num_values_}, device);
  buffer_values = Tensor::from_vector(host_buffers, {num_buffer_values_}, device);
  finalized_ = true;
  bind_views();
}

void ParamStore::bind_views() {
  vars_.clear();
  buffer_views_.clear();
  for (const ParamEntry& e : params_) {
    Var v(values.view(e.offset, e.shape), true);
    v.grad() = grads.view(e.offset, e.shape);
    vars_.push_back(v);
  }
  for (const ParamEntry& e : buffers_) buffer_views_.push_back(buffer_values.view(e.offset, e.shape));
}

void ParamStore::zero_grad() { backend(device_).fill(grads, 0.0); }

void ParamStore::to(Device device) {
  STEADY_CHECK(finalized_, "params: to() before finalize()");
  if (device == device_) return;
  values = values.to(device);
  grads = grads.to(device);
  buffer_values = buffer_values.to(device);
  device_ = device;
  bind_views();
}

void Adam::attach(const ParamStore& store) {
  static std::atomic<uint64_t> next_id{1};
  m = Tensor::zeros(store.values.shape(), store.device());
  v = Tensor::zeros(store.values.shape(), store.device());
  step_ = 0;
  // A fresh identity: memory of an earlier optimizer reused for m must not carry its step.
  args_.optimizer_id = next_id++;
}

void Adam::step(ParamStore& store) {
  STEADY_CHECK(m.defined() && m.shape() == store.values.shape() &&
                   m.device() == store.values.device(),
               "adam: attach() the optimizer to the parameter store first");
  AdamArgs a = args_;
  a.step = ++step_;
  backend(store.device()).adam_step(store.values, store.grads, m, v, a);
}

}  // namespace steady
