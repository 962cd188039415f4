// HTTP requests and responses as plain values, independent of the server library, so handlers are
// ordinary functions that tests can call directly. Problem() builds RFC 9457 problem+json errors.
// Plain values: not synchronised; a Request belongs to the thread handling it.
#pragma once

#include <any>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reglo::http {

struct Request {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // decoded path, without the query string
  std::string query_string;                   // raw, without '?'
  std::map<std::string, std::string> query;   // decoded query parameters (last one wins)
  std::map<std::string, std::string> params;  // from the route pattern: "{id}" -> params["id"]
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;            // empty until the route's body policy has accepted it
  std::string remote_address;  // the peer's IP address, without port
  bool secure = false;         // arrived over TLS
  // What the route's before_body check attached for its handler (e.g. the authenticated caller),
  // so the handler need not repeat the check's work. Empty unless a check set it.
  std::any context;

  // Case-insensitive header lookup; the first occurrence.
  std::optional<std::string> Header(std::string_view name) const;
  std::optional<std::string> Query(std::string_view name) const;
  std::optional<std::string> Param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string content_type, std::string body);
  static Response NoContent();
  Response& WithHeader(std::string name, std::string value);
};

// An application/problem+json response. `slug` names the problem type
// ("https://reglo.it/problems/<slug>"); empty gives "about:blank". `detail` is shown to the client:
// it must never carry secrets or personal data.
Response Problem(int status, std::string_view title, std::string_view detail,
                 std::string_view slug = {});

// The standard reason phrase of `status` ("Not Found"), or "Unknown".
std::string_view ReasonPhrase(int status);

// Percent-decodes `text` ('+' as space when `plus_as_space`). Invalid escapes are kept as is.
std::string PercentDecode(std::string_view text, bool plus_as_space);
// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> ParseQuery(std::string_view query_string);

}  // namespace reglo::http
