#include "reglo/http/router.h"

#include <fmt/format.h>

#include <algorithm>

namespace reglo::http {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool IsRest(const std::string& segment) {
  return IsParam(segment) && segment[1] == '*';
}

// Fills `params` and returns true when `path` matches `pattern`.
bool MatchPath(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
               std::map<std::string, std::string>& params) {
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& segment = pattern[i];
    if (IsRest(segment)) {
      std::string rest;
      for (std::size_t j = i; j < path.size(); ++j) rest += (j > i ? "/" : "") + path[j];
      found[segment.substr(2, segment.size() - 3)] = std::move(rest);
      params = std::move(found);
      return true;
    }
    if (i >= path.size()) return false;
    if (IsParam(segment)) {
      found[segment.substr(1, segment.size() - 2)] = path[i];
    } else if (segment != path[i]) {
      return false;
    }
  }
  if (pattern.size() != path.size()) return false;
  params = std::move(found);
  return true;
}

}  // namespace

void Router::Add(std::string method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  routes_.push_back(
      Route{std::move(method), SplitPath(pattern), std::move(handler), std::move(options)});
}

void Router::SetGuard(HeaderCheck guard) {
  guard_ = std::move(guard);
}

Router::Match Router::Find(Request& request) const {
  if (guard_) {
    if (std::optional<Response> refused = guard_(request)) {
      return Match{nullptr, std::move(*refused)};
    }
  }
  const std::vector<std::string> path = SplitPath(request.path);
  std::vector<std::string> allowed;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPath(route.segments, path, params)) continue;
    if (route.method == request.method) {
      request.params = std::move(params);
      return Match{&route, {}};
    }
    if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }
  if (allowed.empty()) {
    return Match{nullptr, Problem(404, "Not Found", "no such resource", "not-found")};
  }
  Response error = Problem(
      405, "Method Not Allowed",
      fmt::format("{} is not allowed here; use {}", request.method, fmt::join(allowed, ", ")),
      "method-not-allowed");
  error.WithHeader("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
  return Match{nullptr, std::move(error)};
}

}  // namespace reglo::http
