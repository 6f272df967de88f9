// libFuzzer harness: a multi-part EXR sequence with stored motion through the sequence reader
// (probe_sequence, for_each_frame with flow), as eval_video reads seq.exr beside seq.flow.exr.
// The input's first half is the sequence, its second half the motion file.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "data/sequence.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  steady_fuzz::set_budget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t half = size / 2;
  const std::string seq = steady_fuzz::as_file("seq.exr", data, half);
  steady_fuzz::as_file("seq.flow.exr", data + half, size - half);
  try {
    steady::SequenceReadOptions opt;
    steady::probe_sequence(seq, opt);
    steady::for_each_frame(seq, opt, [](int64_t, const steady::Tensor&, const steady::Tensor&) {});
  } catch (const std::exception&) {
  }
  return 0;
}
