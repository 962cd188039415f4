#include "reglo/http/server.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

namespace reglo::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

Poco::Timespan ToTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

void Send(const Response& response, Poco::Net::HTTPServerResponse& out) {
  out.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status),
                         std::string(ReasonPhrase(response.status)));
  for (const auto& [name, value] : response.headers) out.set(name, value);
  out.set("X-Content-Type-Options", "nosniff");
  out.set("Cache-Control", "no-store");
  if (response.status == 204 || response.status == 304) {
    out.send();
    return;
  }
  if (!response.content_type.empty()) out.setContentType(response.content_type);
  out.setContentLength64(static_cast<Poco::Int64>(response.body.size()));
  out.send().write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
}

// Reads the body under the route's size limit and the server's body deadline. Returns the problem
// to answer when the body is refused.
std::optional<Response> ReadBody(Poco::Net::HTTPServerRequest& in, const RouteOptions& route,
                                 std::chrono::milliseconds body_timeout, std::string& body) {
  const bool chunked = in.getChunkedTransferEncoding();
  const bool has_length = in.hasContentLength();
  if (!chunked && !has_length) return std::nullopt;  // no body
  if (has_length) {
    const Poco::Int64 declared = in.getContentLength64();
    if (declared < 0 || static_cast<std::size_t>(declared) > route.max_body_bytes) {
      return Problem(413, "Content Too Large",
                     fmt::format("the body may be at most {} bytes", route.max_body_bytes),
                     "body-too-large");
    }
    body.reserve(static_cast<std::size_t>(declared));
  }
  const auto deadline = SteadyClock::now() + body_timeout;
  std::istream& stream = in.stream();
  char buffer[16 * 1024];
  while (true) {
    stream.read(buffer, sizeof buffer);
    const std::streamsize got = stream.gcount();
    body.append(buffer, static_cast<std::size_t>(got));
    if (body.size() > route.max_body_bytes) {
      return Problem(413, "Content Too Large",
                     fmt::format("the body may be at most {} bytes", route.max_body_bytes),
                     "body-too-large");
    }
    if (SteadyClock::now() > deadline) {
      return Problem(
          408, "Request Timeout",
          fmt::format("the body did not arrive within {} s", body_timeout.count() / 1000.0),
          "body-timeout");
    }
    if (stream.eof()) break;
    if (stream.bad() || stream.fail()) {
      return Problem(408, "Request Timeout", "the body stopped arriving before its end",
                     "body-timeout");
    }
  }
  if (has_length && body.size() != static_cast<std::size_t>(in.getContentLength64())) {
    return Problem(400, "Bad Request", "the body is shorter than its Content-Length",
                   "body-incomplete");
  }
  return std::nullopt;
}

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RequestHandler(const ServerOptions& options, std::shared_ptr<const Router> router)
      : options_(options), router_(std::move(router)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in,
                     Poco::Net::HTTPServerResponse& out) override {
    const auto started = SteadyClock::now();
    Request request;
    Response response;
    try {
      response = Handle(in, request, out);
    } catch (const Poco::Exception& error) {
      spdlog::error("{}: {} {} failed: {}", options_.name, request.method, request.path,
                    error.displayText());
      response = Problem(500, "Internal Server Error", "the request could not be completed");
    } catch (const std::exception& error) {
      spdlog::error("{}: {} {} failed: {}", options_.name, request.method, request.path,
                    error.what());
      response = Problem(500, "Internal Server Error", "the request could not be completed");
    }
    try {
      Send(response, out);
    } catch (const std::exception& error) {
      spdlog::debug("{}: could not send the response: {}", options_.name, error.what());
    }
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started);
    spdlog::debug("{}: {} {} {} {:.1f} ms from {}", options_.name, request.method, request.path,
                  response.status, elapsed.count() / 1000.0, request.remote_address);
  }

 private:
  Response Handle(Poco::Net::HTTPServerRequest& in, Request& request,
                  Poco::Net::HTTPServerResponse& out) {
    request.method = in.getMethod();
    request.remote_address = in.clientAddress().host().toString();
    request.secure = in.secure();
    const std::string& uri = in.getURI();
    const std::size_t question = uri.find('?');
    request.path = PercentDecode(std::string_view(uri).substr(0, question), false);
    if (question != std::string::npos) {
      request.query_string = uri.substr(question + 1);
      request.query = ParseQuery(request.query_string);
    }
    for (const auto& [name, value] : in) request.headers.emplace_back(name, value);

    Router::Match match = router_->Find(request);
    // Answers sent without reading the body end the connection: the unread body would otherwise
    // be taken for the next request.
    if (match.route == nullptr) {
      out.setKeepAlive(false);
      return std::move(match.error);
    }
    const RouteOptions& route = match.route->options;
    if (route.before_body) {
      if (std::optional<Response> refused = route.before_body(request)) {
        out.setKeepAlive(false);
        return std::move(*refused);
      }
    }
    if (std::optional<Response> refused =
            ReadBody(in, route, options_.body_timeout, request.body)) {
      out.setKeepAlive(false);
      return std::move(*refused);
    }
    return match.route->handler(request);
  }

  const ServerOptions& options_;
  std::shared_ptr<const Router> router_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(const ServerOptions& options, std::shared_ptr<const Router> router)
      : options_(options), router_(std::move(router)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(options_, router_);
  }

 private:
  const ServerOptions& options_;
  std::shared_ptr<const Router> router_;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  bool tls = false;
  uint16_t port = 0;
  std::unique_ptr<Poco::ThreadPool> threads;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::once_flag stopped;
};

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::shared_ptr<const Router> router) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const std::string where = fmt::format("{}:{}", options.address, options.port);
  if (options.tls_certificate_file.empty() != options.tls_private_key_file.empty()) {
    return Status::ConfigError(fmt::format(
        "{} listener: TLS needs both a certificate file and a private key file", options.name));
  }
  impl->tls = !options.tls_certificate_file.empty();
  try {
    const Poco::Net::SocketAddress address(options.address, options.port);
    Poco::Net::ServerSocket socket;
    if (impl->tls) {
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, options.tls_private_key_file,
                                 options.tls_certificate_file, "", Poco::Net::Context::VERIFY_NONE);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      socket = Poco::Net::SecureServerSocket(context);
    }
    // SO_REUSEADDR for quick restarts, but not SO_REUSEPORT: a second hub on the same port must
    // fail.
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(128);
    impl->port = socket.address().port();

    auto params = Poco::AutoPtr<Poco::Net::HTTPServerParams>(new Poco::Net::HTTPServerParams);
    params->setMaxThreads(options.max_threads);
    params->setMaxQueued(options.max_queued);
    params->setTimeout(ToTimespan(options.read_timeout));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(ToTimespan(options.keep_alive_timeout));
    params->setServerName("reglo-hub");
    impl->threads = std::make_unique<Poco::ThreadPool>(1, options.max_threads + 1);
    impl->server = std::make_unique<Poco::Net::HTTPServer>(
        new HandlerFactory(impl->options, std::move(router)), *impl->threads, socket, params);
    impl->server->start();
  } catch (const Poco::Exception& error) {
    return Status::IoError(fmt::format("{} listener: cannot listen on {}: {}", options.name, where,
                                       error.displayText()));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop();
}

uint16_t Server::port() const {
  return impl_->port;
}

std::string Server::url() const {
  const std::string& host = impl_->options.address;
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", impl_->tls ? "https" : "http", v6 ? "[" : "", host,
                     v6 ? "]" : "", impl_->port);
}

void Server::Stop() {
  std::call_once(impl_->stopped, [this] {
    // Ends idle keep-alive connections too; requests in flight finish first.
    impl_->server->stopAll(false);
    impl_->threads->joinAll();
    impl_->server.reset();  // closes the listening socket
  });
}

}  // namespace reglo::http
