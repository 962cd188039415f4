// Test support: reading values out of what a `reglo-hub` command printed (a regex capture, the
// key and secret of `keys create`). Header-only and stateless: safe from any thread.
#pragma once

#include <regex>
#include <string>

namespace reglo::testing {

// The first capture group of the first match of `pattern` in `text`; "" when nothing matches.
inline std::string Match(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return "";
  return match[1];
}

// What `reglo-hub keys create` prints once: the agent's API key and signing secret.
struct CreatedKey {
  std::string api_key;         // "" when the output has no "API key:" line
  std::string signing_secret;  // "" when the output has no "Signing secret:" line
};

inline CreatedKey ParseCreatedKey(const std::string& text) {
  return {Match(text, R"((?:^|\n)[ \t]*API key:[ \t]+(\S+))"),
          Match(text, R"((?:^|\n)[ \t]*Signing secret:[ \t]+(\S+))")};
}

}  // namespace reglo::testing
