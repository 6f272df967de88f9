// A small command-line parser shared by the tools: --flag value, --flag=value, boolean
// switches, positional arguments, generated --help, and one-line errors for unknown flags.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace steady {

class Cli {
 public:
  Cli(std::string program, std::string usage) : program_(std::move(program)), usage_(std::move(usage)) {}

  // Declare before parse(). Defaults are shown in --help.
  void option(const std::string& name, const std::string& default_value, const std::string& help);
  void flag(const std::string& name, const std::string& help);
  // The options declared after this are listed under `title` in --help.
  void section(const std::string& title) { sections_.push_back({order_.size(), title}); }
  // Returns false when --help was asked for (the help text is then printed).
  bool parse(int argc, char** argv);

  std::string get(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  // The same, refused with one line unless lo <= value <= hi (no silent wrap when the caller
  // narrows it).
  int64_t get_int(const std::string& name, int64_t lo, int64_t hi) const;
  double get_double(const std::string& name) const;
  bool has(const std::string& name) const;  // a switch given, or an option set explicitly
  std::vector<std::string> get_all(const std::string& name) const;  // repeated options
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;

 private:
  struct Opt {
    std::string default_value, help;
    bool is_flag;
  };
  std::string program_, usage_;
  std::vector<std::string> order_;
  std::vector<std::pair<size_t, std::string>> sections_;  // (first option's index, title)
  std::map<std::string, Opt> opts_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Runs a tool's body, turning steady::Error (and other exceptions) into one line on stderr
// and exit code 1.
int run_tool(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace steady
