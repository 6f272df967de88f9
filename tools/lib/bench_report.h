// The benchmarks' JSON: {"device": ..., "results": [...]}, where a case that failed is
// {"name" or "model"/"reg": ..., "error": "..."} and the others go on. With --out FILE the whole
// document is rewritten (atomically) after every case, so a run that is stopped or crashes
// keeps every case measured before it.
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/lib/cli.h"

namespace steady {

// The options every benchmark takes.
inline void add_bench_options(Cli& cli) {
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.flag("json", "print JSON instead of a table");
  cli.option("out", "", "also write the JSON here, rewritten after every case (a failing or "
             "interrupted run keeps what it measured)");
}

class BenchReport {
 public:
  BenchReport(std::string device, std::string out_path)
      : path_(std::move(out_path)), doc_({{"device", std::move(device)},
                                          {"results", nlohmann::json::array()}}) {
    flush();
  }
  void add(nlohmann::json result) {
    doc_["results"].push_back(std::move(result));
    flush();
  }
  const nlohmann::json& doc() const { return doc_; }

 private:
  void flush() const {
    if (path_.empty()) return;
    const std::string tmp = path_ + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      const std::string text = doc_.dump(1) + "\n";
      const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
      if (std::fclose(f) == 0 && ok) std::rename(tmp.c_str(), path_.c_str());
    }
  }
  std::string path_;
  nlohmann::json doc_;
};

}  // namespace steady
