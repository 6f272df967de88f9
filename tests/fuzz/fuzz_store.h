// The small parameter store (two parameters, one buffer) and Adam state behind the checkpoint
// harness's seed and loads.
#pragma once
#include "engine/params.h"
#include "engine/rng.h"

namespace steady_fuzz {

struct Store {
  steady::ParamStore params;
  steady::Adam adam;
  Store() {
    params.add_param("conv.w", {4, 3, 3, 3}, steady::Init::HeNormal, 27);
    params.add_param("conv.b", {4}, steady::Init::Zeros);
    params.add_buffer("bn.running_var", {4}, steady::Init::Ones);
    steady::Rng rng(1);
    params.finalize(steady::Device::CPU, rng);
    adam.attach(params);
  }
};

}  // namespace steady_fuzz
