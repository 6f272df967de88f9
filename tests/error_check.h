// The check every "bad input" test makes: the call throws steady::Error whose message is one
// line and holds each of `parts` (a file name, the value at fault, what was expected).
#pragma once
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "engine/error.h"

namespace steady::test {

template <class F>
void check_error(F&& call, std::initializer_list<std::string> parts) {
  bool thrown = false;
  try {
    call();
  } catch (const Error& e) {
    thrown = true;
    const std::string msg = e.what();
    INFO("message: ", msg);
    CHECK(msg.find('\n') == std::string::npos);
    for (const std::string& p : parts) {
      CAPTURE(p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
  CHECK_MESSAGE(thrown, "expected a steady::Error");
}

}  // namespace steady::test
