// Server: an HTTP/1.1 listener (Boost.Asio + Boost.Beast) that dispatches to a Router. It holds
// under slow and idle clients: sockets are served asynchronously by a few io threads, handlers run
// on a bounded worker pool, and every request has whole-request deadlines (headers, then body)
// whatever the client sends: 408 when one passes. It enforces the route's body policy before
// reading (413 on a declared length over the limit, then a bounded drain so the client reads the
// answer), caps connections in total and per client address (the excess is refused, idle
// keep-alive connections are closed first when others wait), answers every refusal with
// problem+json, logs each refusal once at info (masked) and counts it (Stats()).
// Why not Poco's HTTPServer (the earlier implementation): thread-per-connection, so 8 slow or idle
// sockets held all 8 threads; measured against `serve` (threads 8): 200 idle connections made new
// pushes wait ~18 s, 8 header tricklers 17 s, a 1 byte/s body got its 408 after 40 s instead of 3
// s. Here an idle or trickling socket costs a buffer and a timer, not a thread (README "Security").
// Ownership: owns its threads and socket; the Router is shared read-only. Stop() or the destructor
// waits for requests in flight. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "reglo/core/status.h"
#include "reglo/http/router.h"

namespace reglo::http {

// How many connections a listener holds. At the total cap a new connection first closes the
// longest-idle keep-alive connection (or one that has not sent a byte yet); with none, it is
// refused with 503. Over the per-address cap (same peer IP) the same, among that address's
// connections, else 429. Refused connections get a problem+json answer (plain HTTP) and are closed.
struct ConnectionLimits {
  int max_connections = 1024;
  int max_connections_per_address = 64;
};

struct ServerOptions {
  std::string name = "http";          // in log lines: "admin", "ingest"
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal, "0.0.0.0", or a host name
  uint16_t port = 0;                  // 0: any free port (see Server::port())
  int max_threads = 8;                // workers running handlers (and route checks)
  int max_queued = 64;                // requests waiting for a worker; beyond, 503 at once
  int io_threads = 2;                 // threads doing socket I/O (never blocked by handlers)
  // Header deadline: the request line and all headers must have arrived this long after the
  // connection was accepted (its first request) or after the first byte of the request (later
  // ones), however the bytes trickle in; else 408 and the connection is closed.
  std::chrono::milliseconds read_timeout{10'000};
  // Body deadline: the whole body must arrive within this long of the end of the headers; else 408.
  std::chrono::milliseconds body_timeout{30'000};
  // A keep-alive connection waits this long for its next request (less when others wait: caps).
  std::chrono::milliseconds keep_alive_timeout{15'000};
  // Writing a response (or a refusal) must end within this long, or the connection is dropped.
  std::chrono::milliseconds write_timeout{10'000};
  // After a refusal sent with the body unread, the body is read and discarded up to these bounds
  // before closing, so the client reads the answer instead of a connection reset.
  std::size_t linger_bytes = 4 << 20;
  std::chrono::milliseconds linger_timeout{2'000};
  std::size_t max_header_bytes = 32 * 1024;  // request line + headers; beyond, 431
  ConnectionLimits connections;
  // TLS: both set -> HTTPS only (TLS 1.2 minimum).
  std::string tls_certificate_file;
  std::string tls_private_key_file;
};

// Counters since Start, for /metrics. A snapshot (plain value).
struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;  // gauge
  uint64_t connections_idle = 0;  // gauge: of those, waiting for a request (may be closed)
  uint64_t connections_refused_total_cap = 0;    // 503: the listener was full
  uint64_t connections_refused_per_address = 0;  // 429: that address had too many
  uint64_t idle_connections_closed = 0;          // closed to make room for a waiting one
  uint64_t requests = 0;                         // requests answered (any status)
  std::map<int, uint64_t> refusals_by_status;    // 400, 401, 403, 408, 413, 415, 422, 429, ...
};

// Whether `status` is a refusal of the client's request (logged at info, counted): 400, 401, 403,
// 408, 411, 413, 415, 422, 429, 431.
bool IsRefusalStatus(int status);

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
  const std::string& name() const;
  ServerStats Stats() const;
  // Stops accepting, closes connections waiting for a request, and waits for requests in flight.
  // Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace reglo::http
