#include "reglo/http/server.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "reglo/core/masking.h"

namespace reglo::http {

bool IsRefusalStatus(int status) {
  switch (status) {
    case 400:
    case 401:
    case 403:
    case 408:
    case 411:
    case 413:
    case 415:
    case 422:
    case 429:
    case 431: return true;
    default: return false;
  }
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;
using TlsStream = asio::ssl::stream<tcp::socket>;

Response BodyTooLarge(std::size_t limit) {
  return Problem(413, "Content Too Large", fmt::format("the body may be at most {} bytes", limit),
                 "body-too-large");
}

std::string Seconds(std::chrono::milliseconds ms) {
  return fmt::format("{:g}", static_cast<double>(ms.count()) / 1000.0);
}

// The problem type's slug and detail of a problem+json answer, for the refusal log line.
std::pair<std::string, std::string> ProblemSummary(const Response& response) {
  if (response.content_type != "application/problem+json") return {};
  const nlohmann::json problem = nlohmann::json::parse(response.body, nullptr, false);
  if (!problem.is_object()) return {};
  std::string type = problem.value("type", std::string());
  if (const std::size_t slash = type.rfind('/'); slash != std::string::npos) {
    type = type.substr(slash + 1);
  }
  return {type, problem.value("detail", std::string())};
}

// The current time as an HTTP date (RFC 9110 IMF-fixdate), for the Date header.
std::string HttpDate() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 64> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text.data(), n);
}

// The serialized answer to a request (or to a connection refused before any request). A HEAD
// answer keeps the Content-Length of the GET but carries no body: the client reads none, so a
// body would be taken for the next answer on a kept connection.
std::shared_ptr<bhttp::response<bhttp::string_body>> Serialize(const Response& response,
                                                               unsigned version, bool keep_alive,
                                                               bool head = false) {
  auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
  out->version(version == 10 ? 10 : 11);
  out->result(static_cast<unsigned>(response.status));
  {
    const std::string_view reason = ReasonPhrase(response.status);
    out->reason(beast::string_view(reason.data(), reason.size()));
  }
  for (const auto& [name, value] : response.headers) out->set(name, value);
  out->set(bhttp::field::server, "reglo-hub");
  out->set("X-Content-Type-Options", "nosniff");
  out->set(bhttp::field::cache_control, "no-store");
  out->set(bhttp::field::date, HttpDate());
  if (response.status != 204 && response.status != 304) {
    if (!response.content_type.empty()) out->set(bhttp::field::content_type, response.content_type);
    if (!head) out->body() = response.body;
    out->content_length(response.body.size());
  }
  out->keep_alive(keep_alive);
  return out;
}

}  // namespace

// The listener's shared state: io threads, workers, the connection registry (caps and idle
// eviction) and the counters. Sessions hold it by shared_ptr, so it outlives the last of them.
struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions options;
  std::shared_ptr<const Router> router;
  bool tls = false;
  uint16_t port = 0;

  asio::io_context io;
  std::optional<asio::ssl::context> tls_context;
  std::optional<tcp::acceptor> acceptor;  // on a strand of `io`
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  std::unique_ptr<asio::thread_pool> workers;
  std::atomic<int> pending_jobs{0};  // handler jobs queued or running
  std::atomic<bool> stopping{false};
  std::once_flag stopped;
  std::optional<asio::steady_timer> retry_timer;  // accept retry after an error, on the strand
  // Refusal writers alive: above kMaxRefusalWriters a refused connection is just closed, so a
  // flood over the caps cannot hold a timer and buffers per connection without bound.
  static constexpr int kMaxRefusalWriters = 64;
  std::atomic<int> refusal_writers{0};

  // A connection as the registry sees it: its address, whether it waits for a request (and so
  // may be closed to make room), and how to close it from another thread.
  struct Entry {
    std::string address;
    bool idle = true;
    SteadyClock::time_point idle_since = SteadyClock::now();
    bool released = false;  // its slot was given away (evicted) or freed
    // Posts onto the connection's strand: close it (evicted: always; stopping: unless it is
    // answering a request, which then ends the connection after its answer).
    std::function<void(bool stopping)> close;
  };
  mutable std::mutex mutex;
  std::condition_variable all_closed;
  std::list<Entry> entries;  // admitted connections, oldest first
  std::map<std::string, int> per_address;
  int open = 0;
  int live_sessions = 0;  // sessions and refusal writers not yet destroyed (Stop waits for 0)
  ServerStats stats;      // counters, under `mutex`

  // Takes a slot for a connection from `address` (its registry entry), closing an idle one when
  // at a cap; else the status to refuse it with (429 per address, 503 in total).
  std::variant<std::list<Entry>::iterator, int> Admit(const std::string& address) {
    std::vector<std::function<void(bool)>> to_close;
    std::variant<std::list<Entry>::iterator, int> result;
    {
      std::lock_guard lock(mutex);
      const auto evict_idle = [&](const std::string* same_address) {
        auto oldest = entries.end();
        for (auto it = entries.begin(); it != entries.end(); ++it) {
          if (!it->idle || it->released || !it->close) continue;
          if (same_address != nullptr && it->address != *same_address) continue;
          if (oldest == entries.end() || it->idle_since < oldest->idle_since) oldest = it;
        }
        if (oldest == entries.end()) return false;
        ReleaseLocked(*oldest);
        to_close.push_back(oldest->close);
        ++stats.idle_connections_closed;
        return true;
      };
      const ConnectionLimits& caps = options.connections;
      int& mine = per_address[address];
      if (mine >= caps.max_connections_per_address && !evict_idle(&address)) {
        ++stats.connections_refused_per_address;
        ++stats.refusals_by_status[429];
        result = 429;
      } else if (open >= caps.max_connections && !evict_idle(nullptr)) {
        ++stats.connections_refused_total_cap;
        ++stats.refusals_by_status[503];
        result = 503;
      } else {
        ++open;
        ++per_address[address];
        ++stats.connections_accepted;
        entries.push_back(Entry{address, true, SteadyClock::now(), false, {}});
        result = std::prev(entries.end());
      }
      if (per_address[address] == 0) per_address.erase(address);
    }
    for (auto& close : to_close) close(false);
    return result;
  }

  void ReleaseLocked(Entry& entry) {
    if (entry.released) return;
    entry.released = true;
    --open;
    if (--per_address[entry.address] <= 0) per_address.erase(entry.address);
  }

  void Forget(std::list<Entry>::iterator entry) {
    std::lock_guard lock(mutex);
    ReleaseLocked(*entry);
    entries.erase(entry);
  }

  void SetIdle(std::list<Entry>::iterator entry) {
    std::lock_guard lock(mutex);
    entry->idle = true;
    entry->idle_since = SteadyClock::now();
  }

  // Marks an idle connection busy; false when it was evicted meanwhile (Admit released it under
  // this mutex and its posted close has not run yet): it must not start a request then.
  bool Claim(std::list<Entry>::iterator entry) {
    std::lock_guard lock(mutex);
    if (entry->released) return false;
    entry->idle = false;
    return true;
  }

  void SessionStarted() {
    std::lock_guard lock(mutex);
    ++live_sessions;
  }
  void SessionEnded() {
    std::lock_guard lock(mutex);
    if (--live_sessions == 0) all_closed.notify_all();
  }

  void CountRefusal(int status) {
    std::lock_guard lock(mutex);
    ++stats.refusals_by_status[status];
  }

  void CountRequest(int status) {
    std::lock_guard lock(mutex);
    ++stats.requests;
    if (IsRefusalStatus(status)) ++stats.refusals_by_status[status];
  }

  // Runs `job` on a worker; false when the queue is full (the caller answers 503).
  bool Submit(std::function<void()> job) {
    const int limit = options.max_threads + options.max_queued;
    if (pending_jobs.fetch_add(1) >= limit) {
      --pending_jobs;
      return false;
    }
    asio::post(*workers, [this, job = std::move(job)] {
      // Counted down however the job ends (its own catch covers what the handlers throw).
      struct Done {
        std::atomic<int>& pending;
        ~Done() { --pending; }
      } done{pending_jobs};
      try {
        job();
      } catch (...) {
        spdlog::error("{}: a request job failed with an unknown exception", options.name);
      }
    });
    return true;
  }

  void Accept();
  void OnAccept(const ErrorCode& error, tcp::socket socket);
  void Refuse(tcp::socket socket, const std::string& address, int status);
};

namespace {

// Sends a refusal to a connection that was not admitted, then drains and closes it: a few
// hundred bytes and a timer per refused connection, gone within the write and linger bounds.
class RefusalWriter : public std::enable_shared_from_this<RefusalWriter> {
 public:
  RefusalWriter(std::shared_ptr<Server::Impl> server, tcp::socket socket, Response response)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        answer_(Serialize(response, 11, false)) {
    server_->SessionStarted();
    ++server_->refusal_writers;
  }
  ~RefusalWriter() {
    --server_->refusal_writers;
    server_->SessionEnded();
  }

  void Run() {
    timer_.expires_after(server_->options.write_timeout);
    timer_.async_wait([self = shared_from_this()](const ErrorCode& error) {
      ErrorCode ignored;
      if (!error) self->socket_.close(ignored);
    });
    bhttp::async_write(socket_, *answer_,
                       [self = shared_from_this()](const ErrorCode& error, std::size_t) {
                         if (error) return self->Close();
                         ErrorCode ignored;
                         self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                         self->timer_.expires_after(self->server_->options.linger_timeout);
                         self->timer_.async_wait([self](const ErrorCode& timer_error) {
                           ErrorCode not_needed;
                           if (!timer_error) self->socket_.close(not_needed);
                         });
                         self->Drain();
                       });
  }

 private:
  void Drain() {
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](const ErrorCode& error, std::size_t n) {
                              self->drained_ += n;
                              if (error || self->drained_ > self->server_->options.linger_bytes) {
                                return self->Close();
                              }
                              self->Drain();
                            });
  }
  void Close() {
    ErrorCode ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  std::shared_ptr<Server::Impl> server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<bhttp::response<bhttp::string_body>> answer_;
  std::array<char, 4096> scratch_{};
  std::size_t drained_ = 0;
};

// One admitted connection: reads requests one after another under their deadlines, hands them to
// the workers, writes the answers. All its steps run on its strand; `Stream` is tcp::socket or
// asio::ssl::stream<tcp::socket>.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  using Entry = std::list<Server::Impl::Entry>::iterator;

  Session(std::shared_ptr<Server::Impl> server, tcp::socket socket, std::string address,
          Entry entry)
      : server_(std::move(server)),
        options_(server_->options),
        stream_(MakeStream(std::move(socket), server_->tls_context)),
        timer_(stream_.get_executor()),
        address_(std::move(address)),
        entry_(entry) {
    server_->SessionStarted();
  }

  ~Session() {
    server_->Forget(entry_);
    server_->SessionEnded();
  }

  void Start() {
    {
      // Evicting posts Close() onto the strand; only now is there a session to close.
      std::lock_guard lock(server_->mutex);
      std::weak_ptr<Session> weak = this->shared_from_this();
      auto executor = stream_.get_executor();
      entry_->close = [weak, executor](bool stopping) {
        asio::post(executor, [weak, stopping] {
          auto self = weak.lock();
          if (!self) return;
          if (!stopping) return self->Evicted();
          if (!self->answering_) self->Close();
        });
      };
    }
    // Stop() may have collected the entries before `close` was set: it sets `stopping` before
    // taking the mutex, so this check (after ours) cannot miss it.
    if (server_->stopping) return Close();
    // The first request's header deadline runs from the accept, through the TLS handshake.
    if constexpr (kTls) {
      const auto deadline = SteadyClock::now() + options_.read_timeout;
      Arm(options_.read_timeout, Phase::kClose);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this(),
                                                               deadline](const ErrorCode& error) {
        if (error || self->timed_out_) return self->Close();
        self->Arm(std::max(
            std::chrono::milliseconds(0),
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())));
        self->WaitForRequest(true);
      });
    } else {
      Arm(options_.read_timeout);
      WaitForRequest(true);
    }
  }

  auto Executor() { return stream_.get_executor(); }

 private:
  static Stream MakeStream(tcp::socket socket, std::optional<asio::ssl::context>& context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      return socket;
    }
  }

  tcp::socket& Socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // What a passed deadline does to the socket. Cancelling alone is not enough: a composed
  // operation (read_header, read, write, handshake) starts new steps after the cancel with no
  // timer, so expiry must be permanent. kShutdownReceive (reading a request): later reads see
  // EOF, so the 408 can still be written; kClose (writing, lingering, TLS): nothing more to say.
  enum class Phase { kShutdownReceive, kClose };

  // The deadline of the current phase: when it passes, the socket is cut as `phase` says and the
  // phase's handler sees timed_out_. Re-arming or disarming discards the previous one.
  void Arm(std::chrono::milliseconds after, Phase phase = Phase::kShutdownReceive) {
    const uint64_t generation = ++generation_;
    timed_out_ = false;
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this(), generation, phase](const ErrorCode& error) {
      if (error || generation != self->generation_) return;
      self->timed_out_ = true;
      ErrorCode ignored;
      self->Socket().cancel(ignored);
      if (phase == Phase::kClose) {
        self->Socket().close(ignored);
      } else {
        self->Socket().shutdown(tcp::socket::shutdown_receive, ignored);
      }
    });
  }
  void Disarm() {
    ++generation_;
    timer_.cancel();
  }

  // Waits for the first byte of the next request (an idle connection, which may be evicted).
  void WaitForRequest(bool first) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // The route's limit is set once the route is known; until then a large declared length must
    // not fail the header (it gets its 413 after the route's checks).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (server_->stopping) return Close();
    if (buffer_.size() > 0) {  // pipelined: the next request has started already
      Arm(options_.read_timeout);
      return ReadHeader();
    }
    server_->SetIdle(entry_);
    if (!first) Arm(options_.keep_alive_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this(), first](
                                                       const ErrorCode& error, std::size_t n) {
      self->buffer_.commit(n);
      if (error || n == 0) return self->Close();  // silence or EOF while idle: just close
      // Evicted between the first byte and now: the close is on its way, do not start.
      if (!self->server_->Claim(self->entry_)) return self->Close();
      if (first && self->timed_out_) return self->RefuseAndClose(self->HeaderTimeout());
      if (!first) self->Arm(self->options_.read_timeout);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](
                                 const ErrorCode& error, std::size_t) { self->OnHeader(error); });
  }

  void OnHeader(const ErrorCode& error) {
    if (timed_out_) return RefuseAndClose(HeaderTimeout());
    if (error == bhttp::error::header_limit) {
      return RefuseAndClose(
          Problem(431, "Request Header Fields Too Large",
                  fmt::format("the request line and headers may be at most {} bytes",
                              options_.max_header_bytes),
                  "headers-too-large"));
    }
    if (error == bhttp::error::end_of_stream || error == asio::error::eof ||
        error == asio::error::connection_reset || error == asio::error::operation_aborted ||
        error == bhttp::error::partial_message) {
      return Close();
    }
    if (error) {
      return RefuseAndClose(
          Problem(400, "Bad Request", "the request line or a header is malformed", "bad-request"));
    }
    Disarm();
    started_ = SteadyClock::now();
    const auto& header = parser_->get();
    request_ = std::make_shared<Request>();
    request_->method = std::string(header.method_string());
    const std::string_view target(header.target().data(), header.target().size());
    const std::size_t question = target.find('?');
    request_->path = PercentDecode(target.substr(0, question), false);
    if (question != std::string_view::npos) {
      request_->query_string = std::string(target.substr(question + 1));
      request_->query = ParseQuery(request_->query_string);
    }
    for (const auto& field : header) {
      request_->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_->remote_address = address_;
    request_->secure = kTls;
    keep_alive_ = header.keep_alive();
    version_ = header.version();

    // The guard and the route's header check may touch the store: on a worker.
    answering_ = true;
    const bool queued = server_->Submit([self = this->shared_from_this()] {
      std::optional<Response> refused;
      const Route* route = nullptr;
      try {
        Router::Match match = self->server_->router->Find(*self->request_);
        route = match.route;
        if (route == nullptr) {
          refused = std::move(match.error);
        } else if (route->options.before_body) {
          refused = route->options.before_body(*self->request_);
        }
      } catch (const std::exception& error) {
        self->LogFailure(error.what());
        refused = Problem(500, "Internal Server Error", "the request could not be completed");
      } catch (...) {
        self->LogFailure("an unknown exception");
        refused = Problem(500, "Internal Server Error", "the request could not be completed");
      }
      asio::post(self->stream_.get_executor(),
                 [self, route, refused = std::move(refused)] { self->OnRouted(route, refused); });
    });
    if (!queued) return RefuseAndClose(Busy());
  }

  Response HeaderTimeout() {
    return Problem(408, "Request Timeout",
                   fmt::format("the request headers did not arrive within {} s",
                               Seconds(options_.read_timeout)),
                   "header-timeout");
  }

  Response Busy() {
    return Problem(503, "Service Unavailable", "the server is busy; retry in a moment",
                   "server-busy")
        .WithHeader("Retry-After", "1");
  }

  void OnRouted(const Route* route, const std::optional<Response>& refused) {
    // Answers sent without reading the body end the connection: the unread body would otherwise
    // be taken for the next request.
    if (refused) return Answer(*refused, /*body_read=*/parser_->is_done());
    route_ = route;
    const std::size_t limit = route->options.max_body_bytes;
    if (const auto declared = parser_->content_length(); declared && *declared > limit) {
      return Answer(BodyTooLarge(limit), false);
    }
    if (parser_->is_done()) return RunHandler();
    parser_->body_limit(limit);
    Arm(options_.body_timeout);
    const auto expect = parser_->get()[bhttp::field::expect];
    if (version_ >= 11 && beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue),
                        [self = this->shared_from_this()](const ErrorCode& error, std::size_t) {
                          if (error) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](const ErrorCode& error, std::size_t) {
                        self->OnBody(error);
                      });
  }

  void OnBody(const ErrorCode& error) {
    if (timed_out_) {
      return Answer(Problem(408, "Request Timeout",
                            fmt::format("the body did not arrive within {} s",
                                        Seconds(options_.body_timeout)),
                            "body-timeout"),
                    false);
    }
    if (error == bhttp::error::body_limit) {
      return Answer(BodyTooLarge(route_->options.max_body_bytes), false);
    }
    if (error == bhttp::error::end_of_stream || error == bhttp::error::partial_message ||
        error == asio::error::eof) {
      return Answer(Problem(400, "Bad Request", "the body is shorter than its Content-Length",
                            "body-incomplete"),
                    false);
    }
    if (error == asio::error::connection_reset || error == asio::error::operation_aborted) {
      return Close();
    }
    if (error) {
      return Answer(Problem(400, "Bad Request", "the body is malformed", "bad-request"), false);
    }
    Disarm();
    request_->body = std::move(parser_->get().body());
    RunHandler();
  }

  void RunHandler() {
    const bool queued = server_->Submit([self = this->shared_from_this()] {
      Response response;
      try {
        response = self->route_->handler(*self->request_);
      } catch (const std::exception& error) {
        self->LogFailure(error.what());
        response = Problem(500, "Internal Server Error", "the request could not be completed");
      } catch (...) {
        self->LogFailure("an unknown exception");
        response = Problem(500, "Internal Server Error", "the request could not be completed");
      }
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)] { self->Answer(response, true); });
    });
    if (!queued) Answer(Busy(), true);
  }

  void LogFailure(const char* what) {
    spdlog::error("{}: {} {} failed: {}", options_.name, MaskPersonalData(request_->method),
                  MaskPersonalData(request_->path), MaskPersonalData(what));
  }

  // A refusal before any request was made of the bytes (bad request line, header deadline, ...).
  void RefuseAndClose(Response response) {
    request_ = std::make_shared<Request>();
    started_ = SteadyClock::now();
    if (parser_) {
      const auto& header = parser_->get();
      request_->method = std::string(header.method_string());
      request_->path = std::string(header.target().data(), header.target().size());
    }
    request_->remote_address = address_;
    version_ = 11;
    Answer(response, false);
  }

  // Writes `response`; keeps the connection when the body was read and both sides allow it.
  void Answer(const Response& response, bool body_read) {
    Disarm();
    const bool keep = body_read && keep_alive_ && !server_->stopping;
    Log(response);
    answer_ = Serialize(response, version_, keep, request_ && request_->method == "HEAD");
    Arm(options_.write_timeout, Phase::kClose);
    bhttp::async_write(
        stream_, *answer_,
        [self = this->shared_from_this(), keep, body_read](const ErrorCode& error, std::size_t) {
          self->answer_.reset();
          self->answering_ = false;
          if (error || self->timed_out_) return self->Close();
          if (keep) return self->WaitForRequest(false);
          self->Finish(!body_read);
        });
  }

  void Log(const Response& response) {
    server_->CountRequest(response.status);
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
    const std::string method = MaskPersonalData(request_->method);
    const std::string path = MaskPersonalData(request_->path);
    if (IsRefusalStatus(response.status) || response.status == 503) {
      const auto [type, detail] = ProblemSummary(response);
      // The server's own 503 (workers busy) is a refusal too; a handler's 503 is not.
      if (response.status == 503 && type != "server-busy") {
        spdlog::debug("{}: {} {} {} {:.1f} ms from {}", options_.name, method, path,
                      response.status, ms, address_);
        return;
      }
      if (response.status == 503) server_->CountRefusal(503);
      spdlog::info("{}: refused {} {} from {}: {} {} ({})", options_.name, method, path, address_,
                   response.status, type, MaskPersonalData(detail));
    }
    spdlog::debug("{}: {} {} {} {:.1f} ms from {}", options_.name, method, path, response.status,
                  ms, address_);
  }

  // Ends the connection after an answer. With `drain` (the body was not read), the rest of it is
  // read and discarded within the linger bounds first: closing with unread bytes would send a
  // reset that can destroy the answer before the client reads it.
  void Finish(bool drain) {
    if (!drain || server_->stopping) return Shutdown();
    if constexpr (!kTls) {
      ErrorCode ignored;
      Socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    Arm(options_.linger_timeout, Phase::kClose);
    buffer_.consume(buffer_.size());
    Drain();
  }

  void Drain() {
    // Into the request buffer (emptied after each read): an idle connection carries no drain
    // buffer of its own.
    stream_.async_read_some(buffer_.prepare(16 * 1024), [self = this->shared_from_this()](
                                                            const ErrorCode& error, std::size_t n) {
      self->buffer_.consume(self->buffer_.size());
      self->drained_ += n;
      if (error || self->timed_out_ || self->drained_ > self->options_.linger_bytes) {
        return self->Shutdown();
      }
      self->Drain();
    });
  }

  void Shutdown() {
    if constexpr (kTls) {
      if (!timed_out_ && !server_->stopping) {
        Arm(std::chrono::milliseconds(1000), Phase::kClose);
        stream_.async_shutdown(
            [self = this->shared_from_this()](const ErrorCode&) { self->Close(); });
        return;
      }
    }
    Close();
  }

  void Evicted() {
    spdlog::debug("{}: closed an idle connection from {} to make room", options_.name, address_);
    Close();
  }

 public:
  void Close() {
    Disarm();
    ErrorCode ignored;
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

 private:
  std::shared_ptr<Server::Impl> server_;
  const ServerOptions& options_;
  Stream stream_;
  asio::steady_timer timer_;
  std::string address_;
  Entry entry_;
  beast::flat_buffer buffer_{64 * 1024};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Request> request_;
  const Route* route_ = nullptr;
  std::shared_ptr<bhttp::response<bhttp::string_body>> answer_;
  std::size_t drained_ = 0;
  uint64_t generation_ = 0;
  bool timed_out_ = false;
  bool answering_ = false;  // from the headers to the end of the answer: Stop() lets it finish
  bool keep_alive_ = false;
  unsigned version_ = 11;
  SteadyClock::time_point started_ = SteadyClock::now();
};

std::string PeerAddress(const tcp::socket& socket) {
  ErrorCode error;
  const tcp::endpoint peer = socket.remote_endpoint(error);
  if (error) return "unknown";
  asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

}  // namespace

void Server::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(io),
                         [self = shared_from_this()](const ErrorCode& error, tcp::socket socket) {
                           self->OnAccept(error, std::move(socket));
                         });
}

void Server::Impl::OnAccept(const ErrorCode& error, tcp::socket socket) {
  if (stopping || error == asio::error::operation_aborted) return;
  if (error) {
    // Out of file descriptors and the like: wait a moment rather than spin.
    spdlog::warn("{}: accept failed: {}", options.name, error.message());
    retry_timer.emplace(acceptor->get_executor(), std::chrono::milliseconds(100));
    retry_timer->async_wait([self = shared_from_this()](const ErrorCode& timer_error) {
      if (!timer_error && !self->stopping) self->Accept();
    });
    return;
  }
  const std::string address = PeerAddress(socket);
  auto admitted = Admit(address);
  if (stopping) {  // Stop() began meanwhile and may not see this connection
    if (auto* entry = std::get_if<std::list<Entry>::iterator>(&admitted)) Forget(*entry);
    ErrorCode ignored;
    socket.close(ignored);
    return;
  }
  if (const int* refused = std::get_if<int>(&admitted)) {
    Refuse(std::move(socket), address, *refused);
  } else {
    auto entry = std::get<std::list<Entry>::iterator>(admitted);
    // Start() runs on the session's strand, like everything else it does (Stop and evictions
    // post there too).
    const auto serve = [&]<typename Stream>(std::type_identity<Stream>) {
      std::shared_ptr<Session<Stream>> session;
      try {
        session = std::make_shared<Session<Stream>>(shared_from_this(), std::move(socket), address,
                                                    entry);
      } catch (const std::exception& failure) {  // e.g. the TLS stream could not be made
        spdlog::error("{}: cannot serve a connection from {}: {}", options.name, address,
                      failure.what());
        Forget(entry);  // no session owns the entry, so none will forget it
        return;
      }
      asio::dispatch(session->Executor(), [session] { session->Start(); });
    };
    if (tls) {
      serve(std::type_identity<TlsStream>{});
    } else {
      serve(std::type_identity<tcp::socket>{});
    }
  }
  Accept();
}

void Server::Impl::Refuse(tcp::socket socket, const std::string& address, int status) {
  const bool per_address = status == 429;
  const std::string detail =
      per_address ? fmt::format("too many connections from this address (at most {})",
                                options.connections.max_connections_per_address)
                  : fmt::format("too many connections (at most {}); retry in a moment",
                                options.connections.max_connections);
  spdlog::info("{}: refused a connection from {}: {} too-many-connections ({})", options.name,
               address, status, detail);
  if (tls || refusal_writers >= kMaxRefusalWriters) {
    // No plain-text answer on a TLS port, and no handshake for a refused client; past the cap on
    // writers, no answer at all.
    ErrorCode ignored;
    socket.close(ignored);
    return;
  }
  Response response = Problem(status, ReasonPhrase(status), detail, "too-many-connections")
                          .WithHeader("Retry-After", "1");
  std::make_shared<RefusalWriter>(shared_from_this(), std::move(socket), std::move(response))
      ->Run();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::shared_ptr<const Router> router) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->router = std::move(router);
  const std::string where = fmt::format("{}:{}", options.address, options.port);
  if (options.tls_certificate_file.empty() != options.tls_private_key_file.empty()) {
    return Status::ConfigError(fmt::format(
        "{} listener: TLS needs both a certificate file and a private key file", options.name));
  }
  if (options.max_threads < 1 || options.io_threads < 1 || options.max_queued < 0 ||
      options.connections.max_connections < 1 ||
      options.connections.max_connections_per_address < 1) {
    return Status::ConfigError(
        fmt::format("{} listener: threads and connection caps must be at least 1", options.name));
  }
  impl->tls = !options.tls_certificate_file.empty();
  const auto fail = [&](const std::string& why) -> Result<std::unique_ptr<Server>> {
    return Status::IoError(
        fmt::format("{} listener: cannot listen on {}: {}", options.name, where, why));
  };
  if (impl->tls) {
    ErrorCode error;
    impl->tls_context.emplace(asio::ssl::context::tls_server);
    asio::ssl::context& context = *impl->tls_context;
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    context.use_certificate_chain_file(options.tls_certificate_file, error);
    if (error) return fail("certificate " + options.tls_certificate_file + ": " + error.message());
    context.use_private_key_file(options.tls_private_key_file, asio::ssl::context::pem, error);
    if (error) return fail("private key " + options.tls_private_key_file + ": " + error.message());
  }
  ErrorCode error;
  tcp::resolver resolver(impl->io);
  const auto endpoints =
      resolver.resolve(options.address, std::to_string(options.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (error || endpoints.empty()) return fail(error ? error.message() : "no such address");
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor& acceptor = impl->acceptor.emplace(asio::make_strand(impl->io));
  acceptor.open(endpoint.protocol(), error);
  if (error) return fail(error.message());
  // SO_REUSEADDR for quick restarts, but not SO_REUSEPORT: a second hub on the same port must
  // fail.
  acceptor.set_option(asio::socket_base::reuse_address(true), error);
  acceptor.bind(endpoint, error);
  if (error) return fail(error.message());
  acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) return fail(error.message());
  impl->port = acceptor.local_endpoint().port();

  impl->workers =
      std::make_unique<asio::thread_pool>(static_cast<std::size_t>(options.max_threads));
  impl->work.emplace(asio::make_work_guard(impl->io));
  impl->Accept();
  for (int i = 0; i < options.io_threads; ++i) {
    impl->io_threads.emplace_back([io = &impl->io, name = options.name] {
      // A handler that throws unwinds run(); the thread logs it and runs on, else the listener
      // would lose an io thread per exception.
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& error) {
          spdlog::error("{}: an io handler failed: {}", name, error.what());
        } catch (...) {
          spdlog::error("{}: an io handler failed with an unknown exception", name);
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop();
}

uint16_t Server::port() const {
  return impl_->port;
}

const std::string& Server::name() const {
  return impl_->options.name;
}

std::string Server::url() const {
  const std::string& host = impl_->options.address;
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", impl_->tls ? "https" : "http", v6 ? "[" : "", host,
                     v6 ? "]" : "", impl_->port);
}

ServerStats Server::Stats() const {
  std::lock_guard lock(impl_->mutex);
  ServerStats stats = impl_->stats;
  stats.connections_open = static_cast<uint64_t>(impl_->open);
  for (const Impl::Entry& entry : impl_->entries) {
    if (entry.idle && !entry.released) ++stats.connections_idle;
  }
  return stats;
}

void Server::Stop() {
  std::call_once(impl_->stopped, [this] {
    Impl& impl = *impl_;
    impl.stopping = true;
    asio::post(impl.acceptor->get_executor(), [&impl] {
      ErrorCode ignored;
      impl.acceptor->close(ignored);
      if (impl.retry_timer) impl.retry_timer->cancel();
    });
    // Connections waiting for a request are closed; requests in flight finish first (their
    // connections close after the answer: `stopping` turns keep-alive off).
    std::vector<std::function<void(bool)>> open;
    {
      std::lock_guard lock(impl.mutex);
      for (Impl::Entry& entry : impl.entries) {
        if (entry.close) open.push_back(entry.close);
      }
    }
    for (auto& close : open) close(true);
    {
      std::unique_lock lock(impl.mutex);
      impl.all_closed.wait(lock, [&impl] { return impl.live_sessions == 0; });
    }
    // No io.stop(): handlers left queued would keep Impl alive through their captures (a cycle
    // Impl -> io -> handler -> Impl). With the acceptor closed and no sessions left, run() returns
    // once the remaining handlers have run.
    impl.work.reset();
    for (std::thread& thread : impl.io_threads) thread.join();
    impl.workers->join();
    impl.acceptor.reset();
  });
}

}  // namespace reglo::http
