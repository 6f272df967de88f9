// libFuzzer harness: read_image on bytes named *.STEADY_FUZZ_EXT (exr, png, jpg, hdr), as every
// tool reads an image, plus for EXR the multi-part sequence reader (exr_part_count, read_exr of
// each part) that sequences and stored motion go through. A steady::Error is the expected
// refusal; a crash, a sanitizer report, a hang or running out of memory is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "data/image_io.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  steady_fuzz::set_budget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = steady_fuzz::as_file("input." STEADY_FUZZ_EXT, data, size);
  try {
    steady::Tensor img = steady::read_image(path, 3);
    volatile float first = img.data<float>()[0];  // the pixels are really there
    (void)first;
  } catch (const std::exception&) {
  }
#ifdef STEADY_FUZZ_EXR_PARTS
  try {
    const int parts = steady::exr_part_count(path);
    for (int p = 0; p < parts && p < 16; ++p) steady::read_exr(path, p);
  } catch (const std::exception&) {
  }
#endif
  return 0;
}
