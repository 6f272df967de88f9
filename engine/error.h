// steady::Error and the checks that throw it. Every message names where it came from, so a tool
// can print e.what() as its one line of error.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace steady {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: fail("conv2d: x has ", c, " channels").
template <class... A>
[[noreturn]] void fail(const A&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(os.str());
}

}  // namespace steady

// User-facing precondition: STEADY_CHECK(x.dim() == 4, "conv2d: x must be NCHW, got ", x.shape_str());
#define STEADY_CHECK(cond, ...)            \
  do {                                     \
    if (!(cond)) ::steady::fail(__VA_ARGS__); \
  } while (0)

// Internal invariant: reports file:line and the failing expression.
#define STEADY_ASSERT(cond)                                                                  \
  do {                                                                                       \
    if (!(cond)) ::steady::fail(__FILE__, ":", __LINE__, ": internal check failed: ", #cond); \
  } while (0)
