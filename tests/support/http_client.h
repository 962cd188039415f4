// Test support: a blocking HTTP/1.1 client for the hub's listeners in tests (admin, ingest, the
// HTTP server itself), one request per connection to 127.0.0.1. Header-only and stateless; each
// call has its own session, so calls from several threads are fine.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace reglo::testing {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
  Poco::Net::HTTPResponse headers;
  // The body as JSON; a discarded value when it is not JSON.
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  // A problem+json body's "type", or "" when there is none.
  std::string ProblemType() const {
    const nlohmann::json problem = Json();
    return problem.is_object() && problem.contains("type") && problem["type"].is_string()
               ? problem["type"].get<std::string>()
               : "";
  }
};

// Sends `request` with `body` to 127.0.0.1:`port` and reads the whole answer. The content length
// is set whenever there is a body or the method carries one (POST, PUT): an empty POST still
// says "Content-Length: 0".
inline HttpReply SendHttp(uint16_t port, Poco::Net::HTTPRequest& request,
                          const std::string& body = "") {
  if (!body.empty() || request.getMethod() == "POST" || request.getMethod() == "PUT") {
    request.setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.sendRequest(request) << body;
  HttpReply reply;
  std::istream& in = session.receiveResponse(reply.headers);
  std::ostringstream text;
  text << in.rdbuf();
  reply.status = static_cast<int>(reply.headers.getStatus());
  reply.content_type = reply.headers.getContentType();
  reply.body = text.str();
  return reply;
}

// Sends raw `bytes` to 127.0.0.1:`port` (a request cut short, a body that never comes) and returns
// everything the server answers until it closes the connection.
inline std::string RawExchange(uint16_t port, const std::string& bytes) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string answer;
  char buffer[4096];
  for (int got = 0; (got = socket.receiveBytes(buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<size_t>(got));
  }
  return answer;
}

}  // namespace reglo::testing
