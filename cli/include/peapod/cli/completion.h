// Shell completion generated from the CLI's own CLI11 definition, so that it cannot fall behind
// the verbs and flags (`peapod completion bash`, installed by the package).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace peapod::cli {

// A bash completion script for `program`: verbs and nested verbs, each verb's flags and the
// global ones, and file names after flags that take a file (-f/--filename, -i/--input,
// --config, ...). Needs only bash (not the bash-completion package's helpers).
std::string BashCompletion(const CLI::App& app, const std::string& program);

}  // namespace peapod::cli
