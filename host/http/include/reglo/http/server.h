// Server: an HTTP/1.1 listener (Poco::Net::HTTPServer) that dispatches to a Router. It enforces the
// route's body policy before reading (413 on a declared length over the limit), reads bodies under
// a deadline (408 for slow clients), turns handler exceptions into 500 problems, and logs one line
// per request (method, path, status, time; never bodies, query strings or credentials).
// Ownership: owns its threads and socket; the Router is shared read-only. Stop() or the destructor
// waits for requests in flight. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "reglo/core/status.h"
#include "reglo/http/router.h"

namespace reglo::http {

struct ServerOptions {
  std::string name = "http";          // in log lines: "admin", "ingest"
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal, or "0.0.0.0"
  uint16_t port = 0;                  // 0: any free port (see Server::port())
  int max_threads = 8;
  int max_queued = 64;
  // No byte from the client for this long (headers or body) -> the connection is closed.
  std::chrono::milliseconds read_timeout{10'000};
  // The whole body must arrive within this long -> otherwise 408.
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds keep_alive_timeout{15'000};
  // TLS: both set -> HTTPS only.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
};

class Server {
 public:
  // Binds and starts serving; an error names the address and why (port in use, bad certificate).
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::shared_ptr<const Router> router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:8470" (https when TLS); for logs and the demo.
  std::string url() const;
  // Stops accepting and waits for requests in flight. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reglo::http
