#include "models/model.h"

#include <cstdio>

#include "models/color_autoencoder.h"
#include "models/hdr_autoencoder.h"

namespace steady {

Model::Conv Model::add_conv(const std::string& name, int ci, int co, int k, int stride) {
  Conv c;
  c.w = store_.add_param(name + ".weight", {co, ci, k, k}, Init::HeNormal, int64_t(ci) * k * k);
  c.b = store_.add_param(name + ".bias", {co}, Init::Zeros);
  c.stride = stride;
  c.pad = k / 2;
  rows_.push_back({name, "conv" + std::to_string(k) + "x" + std::to_string(k) +
                             (stride > 1 ? "/" + std::to_string(stride) : ""),
                   {co, ci, k, k}, int64_t(co) * ci * k * k + co});
  return c;
}

Model::Conv Model::add_upconv(const std::string& name, int ci, int co) {
  Conv c;
  c.w = store_.add_param(name + ".weight", {ci, co, 4, 4}, Init::HeNormal, int64_t(ci) * 4);
  c.b = store_.add_param(name + ".bias", {co}, Init::Zeros);
  c.stride = 2;
  c.pad = 1;
  c.transposed = true;
  rows_.push_back({name, "upconv4x4*2", {ci, co, 4, 4}, int64_t(ci) * co * 16 + co});
  return c;
}

Model::BatchNorm Model::add_batch_norm(const std::string& name, int c) {
  BatchNorm bn;
  bn.gamma = store_.add_param(name + ".weight", {c}, Init::Ones);
  bn.beta = store_.add_param(name + ".bias", {c}, Init::Zeros);
  bn.mean = store_.add_buffer(name + ".running_mean", {c}, Init::Zeros);
  bn.var = store_.add_buffer(name + ".running_var", {c}, Init::Ones);
  rows_.push_back({name, "batchnorm", {c}, int64_t(4) * c});
  return bn;
}

Var Model::apply(const Conv& c, const Var& x) {
  if (c.transposed)
    return conv_transpose2d(x, store_.param(c.w), store_.param(c.b), c.stride, c.pad, c.output_pad);
  return conv2d(x, store_.param(c.w), store_.param(c.b), c.stride, c.pad);
}

Var Model::apply(const BatchNorm& bn, const Var& x, bool training) {
  BatchNormState state{store_.buffer(bn.mean), store_.buffer(bn.var)};
  if (training && bn_mode_ == BatchNormMode::Frozen)
    return batch_norm_frozen(x, store_.param(bn.gamma), store_.param(bn.beta), state);
  return batch_norm(x, store_.param(bn.gamma), store_.param(bn.beta), state, training);
}

std::string Model::summary() const {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-14s %-14s %-20s %12s\n", "layer", "kind", "shape", "params");
  out += line;
  for (const Row& r : rows_) {
    std::snprintf(line, sizeof line, "%-14s %-14s %-20s %12lld\n", r.name.c_str(), r.kind.c_str(),
                  shape_str(r.shape).c_str(), static_cast<long long>(r.count));
    out += line;
  }
  out += "parameters: " + std::to_string(parameter_count()) + "\n";
  return out;
}

std::unique_ptr<Model> make_model(const std::string& task) {
  if (task == "hdr") return std::make_unique<HdrAutoencoder>();
  if (task == "color") return std::make_unique<ColorAutoencoder>();
  fail("unknown model task '", task, "' (expected hdr or color)");
}

}  // namespace steady
