// Router: maps method + path pattern to a handler. Patterns are literal segments, "{name}" for one
// segment, and a final "{*name}" for the rest of the path. Each route carries its body policy,
// applied by the server before the body is read. A guard (e.g. authentication) runs before any
// route is looked up, so a refused request learns nothing, not even whether a path exists. Build
// it fully, then share it read-only: Find() is thread-safe, Add() and SetGuard() are not.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reglo/http/message.h"

namespace reglo::http {

using Handler = std::function<Response(const Request&)>;
// Runs with the headers only (body not read yet); a response here is sent instead of reading it.
// It may leave what it learnt in request.context for the handler.
using HeaderCheck = std::function<std::optional<Response>(Request&)>;

struct RouteOptions {
  std::size_t max_body_bytes = 1 << 20;  // larger declared or sent bodies get 413
  HeaderCheck before_body;               // e.g. authentication, content type
};

struct Route {
  std::string method;
  std::vector<std::string> segments;  // the pattern split on '/'
  Handler handler;
  RouteOptions options;
};

class Router {
 public:
  void Add(std::string method, std::string_view pattern, Handler handler,
           RouteOptions options = {});
  // Runs on every request (headers only) before the route lookup; a response it returns is sent
  // instead of the route's, 404 or 405. One guard per router; a later call replaces it.
  void SetGuard(HeaderCheck guard);

  // The route for `request` with its path parameters filled in, or the guard's refusal or the
  // 404 / 405 (with an Allow header) problem to answer instead.
  struct Match {
    const Route* route = nullptr;
    Response error;
  };
  Match Find(Request& request) const;

 private:
  std::vector<Route> routes_;
  HeaderCheck guard_;
};

}  // namespace reglo::http
