#include "tools/lib/cli.h"

#include <cstdio>
#include <exception>
#include <sstream>

#include "engine/error.h"

namespace steady {

void Cli::option(const std::string& name, const std::string& default_value,
                 const std::string& help) {
  order_.push_back(name);
  opts_[name] = {default_value, help, false};
}

void Cli::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  opts_[name] = {"", help, true};
}

bool Cli::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = opts_.find(name);
    STEADY_CHECK(it != opts_.end(), "unknown option --", name, " (see --help)");
    if (it->second.is_flag) {
      STEADY_CHECK(!inline_value, "--", name, " takes no value");
      values_[name].push_back("1");
      continue;
    }
    if (!inline_value) {
      STEADY_CHECK(i + 1 < argc, "--", name, " needs a value");
      value = argv[++i];
    }
    values_[name].push_back(value);
  }
  return true;
}

bool Cli::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Cli::get(const std::string& name) const {
  auto v = values_.find(name);
  if (v != values_.end()) return v->second.back();
  auto o = opts_.find(name);
  STEADY_ASSERT(o != opts_.end());
  return o->second.default_value;
}

std::vector<std::string> Cli::get_all(const std::string& name) const {
  auto v = values_.find(name);
  return v == values_.end() ? std::vector<std::string>{} : v->second;
}

int64_t Cli::get_int(const std::string& name) const {
  std::string s = get(name);
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--", name, " must be an integer, got '", s, "'");
}

int64_t Cli::get_int(const std::string& name, int64_t lo, int64_t hi) const {
  const int64_t v = get_int(name);
  STEADY_CHECK(v >= lo && v <= hi, "--", name, " must be in [", lo, ", ", hi, "], got ", get(name));
  return v;
}

double Cli::get_double(const std::string& name) const {
  std::string s = get(name);
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--", name, " must be a number, got '", s, "'");
}

std::string Cli::help() const {
  std::ostringstream os;
  os << "usage: " << program_ << " " << usage_ << "\n";
  if (sections_.empty() || sections_[0].first > 0) os << "\noptions:\n";
  for (size_t i = 0; i < order_.size(); ++i) {
    for (const auto& [first, title] : sections_)
      if (first == i) os << "\n" << title << ":\n";
    const Opt& o = opts_.at(order_[i]);
    const std::string& name = order_[i];
    std::string left = "  --" + name + (o.is_flag ? "" : " V");
    os << left << std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') << o.help;
    if (!o.is_flag && !o.default_value.empty()) os << " (default " << o.default_value << ")";
    os << "\n";
  }
  os << "  -h, --help              this text\n";
  return os.str();
}

int run_tool(const char* program, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  }
  return 1;
}

}  // namespace steady
