#include "reglo/isolation/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "reglo/core/text.h"
#include "reglo/isolation/protocol.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::isolation {
namespace {

using namespace protocol;
using Clock = std::chrono::steady_clock;

// A frame goes out at once after a quiet spell; in a burst frames are batched up to this age or
// size (checkpoints always go out at once).
constexpr auto kFlushAge = std::chrono::milliseconds(10);
constexpr size_t kFlushBytes = 32 * 1024;
// How often a pull looks for the hub's kStop / kRefuse.
constexpr auto kIncomingEvery = std::chrono::milliseconds(1);

// A record with more fields than the protocol carries fails the pull with the reason (the hub
// would refuse the frame and end the runner without it).
Status CheckFieldCount(const reglo_record& record) {
  if (record.field_count <= kMaxRecordFields) return Status::Ok();
  return Status::Internal(
      fmt::format("the plugin emitted a record of {} fields, over the {} a record may have in a "
                  "connector process",
                  record.field_count, kMaxRecordFields));
}

// A broken pipe means the hub is gone: nothing to report to, nobody to serve.
[[noreturn]] void HubGone() {
  std::_Exit(kExitHubGone);
}

// The runner's side of the socket, written from the serving thread and flushed by a background
// thread too, so frames never wait in the buffer longer than kFlushAge while the plugin is busy
// (a record, then a long computation: the hub sees the record, and so does its watchdog).
class Output {
 public:
  explicit Output(int fd) : writer_(fd) {
    std::thread([this] { FlushLoop(); }).detach();  // lives as long as the process
  }

  void Send(Type type, std::string_view body) {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool was_empty = writer_.pending() == 0;
    if (!writer_.Append(type, body).ok()) std::_Exit(kExitProtocol);
    if (type == Type::kPollStop) poll_pending_ = true;
    if (writer_.pending() >= kFlushBytes ||
        (was_empty && Clock::now() - last_flush_ >= kFlushAge)) {
      FlushLocked();  // a lone frame after a quiet spell goes at once; a burst is batched
    } else if (was_empty) {
      first_pending_ = Clock::now();
      wake_.notify_one();
    }
  }
  // At most one should_stop poll per batch: the hub needs to hear of polls, not count them.
  void SendPollStop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (poll_pending_) return;
    }
    Send(Type::kPollStop, {});
  }
  void Flush() {
    std::lock_guard<std::mutex> lock(mutex_);
    FlushLocked();
  }

 private:
  void FlushLocked() {
    if (writer_.pending() == 0) return;
    if (!writer_.Flush().ok()) HubGone();
    last_flush_ = Clock::now();
    poll_pending_ = false;
  }
  void FlushLoop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return writer_.pending() > 0; });
      const Clock::time_point due = first_pending_ + kFlushAge;
      if (wake_.wait_until(lock, due, [this] { return writer_.pending() == 0; })) continue;
      FlushLocked();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  FrameWriter writer_;
  Clock::time_point first_pending_{};
  Clock::time_point last_flush_{};
  bool poll_pending_ = false;
};

class Runner {
 public:
  Runner(int in, int out) : reader_(in), output_(out) {}

  int Serve() {
    Encoder hello;
    hello.U32(kMagic).U16(kVersionMajor).U16(kVersionMinor).U32(kMaxFrameBytes);
    Send(Type::kHello, hello.bytes());
    Flush();
    for (;;) {
      Frame frame;
      Result<ReadOutcome> got = reader_.Next(frame, -1);
      if (!got.ok()) return kExitProtocol;
      // The hub closed the pipe: an orderly end (the instance is destroyed first).
      if (*got == ReadOutcome::kPeerClosed) break;
      if (!Handle(frame)) return kExitProtocol;
      Flush();
      if (shutdown_) break;
    }
    instance_.reset();
    plugin_.reset();
    return kExitOk;
  }

 private:
  // --- requests -------------------------------------------------------------------------------

  bool Handle(const Frame& frame) {
    Decoder in(frame.body);
    switch (frame.type) {
      case Type::kLoad: {
        const std::string path(in.Str());
        if (!in.done()) return false;
        if (plugin_) return Reply(Status::Internal("a plugin is already loaded"));
        Result<std::shared_ptr<plugin_host::LoadedPlugin>> loaded =
            plugin_host::LoadedPlugin::Load(path);
        if (!loaded.ok()) return Reply(loaded.status());
        plugin_ = *loaded;
        Encoder info;
        info.Info(plugin_->info());
        Send(Type::kLoaded, info.bytes());
        return true;
      }
      case Type::kCreate: {
        const std::string config(in.Str());
        if (!in.done()) return false;
        if (!plugin_) return Reply(Status::Internal("no plugin loaded"));
        instance_.reset();
        Result<std::unique_ptr<plugin_host::ConnectorInstance>> created =
            plugin_->CreateInstance(config, LogCallback());
        if (!created.ok()) return Reply(created.status());
        instance_ = std::move(*created);
        return Reply(Status::Ok());
      }
      case Type::kDestroy: instance_.reset(); return Reply(Status::Ok());
      case Type::kAuthenticate:
        if (!instance_) return Reply(NoInstance());
        return Reply(instance_->Authenticate());
      case Type::kHealthCheck:
        if (!instance_) return Reply(NoInstance());
        return Reply(instance_->HealthCheck());
      case Type::kListStreams: {
        if (!instance_) return Reply(NoInstance());
        Result<std::vector<std::string>> streams = instance_->ListStreams();
        if (!streams.ok()) return Reply(streams.status());
        Encoder out;
        out.U32(static_cast<uint32_t>(streams->size()));
        for (const std::string& stream : *streams) out.Str(stream);
        Send(Type::kStreams, out.bytes());
        return true;
      }
      case Type::kPull: {
        const std::string stream(in.Str());
        std::string cursor_text;
        std::optional<std::string> cursor;
        if (in.OptStr(cursor_text)) cursor = std::move(cursor_text);
        const uint8_t flags = in.U8();
        if (!in.done()) return false;
        if (!instance_) return Reply(NoInstance());
        return Pull(stream, cursor, (flags & kPullMapRecords) != 0,
                    (flags & kPullSynchronousStop) != 0);
      }
      case Type::kMap: {
        OwnedRecord record;
        if (!record.Decode(in) || !in.done()) return false;
        if (!instance_) return Reply(NoInstance());
        Status mapped = instance_->MapToCanonical(record.view(), [this](const reglo_record& c) {
          return SendRecord(Type::kCanonical, c, {});
        });
        return Reply(mapped);
      }
      case Type::kStop:
      case Type::kRefuse: return true;  // late for a pull that has already ended
      case Type::kShutdown:
        instance_.reset();
        shutdown_ = true;
        return true;
      default: return false;
    }
  }

  static Status NoInstance() { return Status::Internal("no connector instance (create first)"); }

  bool Reply(const Status& status) {
    Encoder out;
    out.StatusValue(status).U32(instance_ ? instance_->last_retry_after_ms() : 0);
    Send(Type::kResult, out.bytes());
    return true;
  }

  plugin_host::PluginLogCallback LogCallback() {
    return [this](reglo_log_level level, std::string_view message) {
      Encoder out;
      out.U8(static_cast<uint8_t>(level)).Str(message);
      Send(Type::kLog, out.bytes());
    };
  }

  // --- a pull ----------------------------------------------------------------------------------

  // Forwards what the plugin emits to the hub as it comes; the hub's kStop and kRefuse are picked
  // up between callbacks, so emit_record never waits for a round trip.
  class Forwarder final : public plugin_host::PullHandler {
   public:
    Forwarder(Runner& runner, bool map_records, bool synchronous_stop)
        : runner_(runner), map_records_(map_records), synchronous_stop_(synchronous_stop) {}

    Status OnRecord(const reglo_record& record) override {
      runner_.CheckIncoming(*this);
      if (!refusal.ok()) return refusal;
      const size_t size = EncodedRecordSize(record);
      if (size + 64 > kMaxFrameBytes) {
        return Status::Internal(fmt::format(
            "the plugin emitted a record of {:.1f} MiB ('{}'), over the {} MiB a record may "
            "have in a connector process",
            static_cast<double>(size) / (1 << 20),
            Excerpt(record.external_id ? record.external_id : ""), kMaxFrameBytes >> 20));
      }
      if (Status fields = CheckFieldCount(record); !fields.ok()) return fields;
      Status mapped = Status::Ok();
      if (map_records_) {
        // The hub holds these until the record comes: it takes no more than its limits.
        size_t count = 0;
        size_t bytes = 0;
        mapped = runner_.instance_->MapToCanonical(record, [&](const reglo_record& c) {
          bytes += EncodedRecordSize(c);
          if (++count > kMaxCanonicalPerRecord || bytes > kMaxCanonicalBytesPerRecord) {
            return Status::Internal(fmt::format(
                "the plugin mapped one record to more than {} canonical records or {} MiB",
                kMaxCanonicalPerRecord, kMaxCanonicalBytesPerRecord >> 20));
          }
          REGLO_RETURN_IF_ERROR(CheckFieldCount(c));
          return runner_.SendRecord(Type::kCanonical, c, {});
        });
      }
      Encoder tail;
      tail.U8(map_records_ ? 1 : 0).StatusValue(mapped);
      REGLO_RETURN_IF_ERROR(runner_.SendRecord(Type::kRecord, record, tail.bytes()));
      return refusal;
    }
    Status OnCheckpoint(std::string_view cursor, uint64_t record_count) override {
      runner_.CheckIncoming(*this);
      if (!refusal.ok()) return refusal;
      Encoder out;
      out.Str(cursor).U64(record_count);
      runner_.Send(Type::kCheckpoint, out.bytes());
      runner_.Flush();  // a checkpoint is worth committing at once
      return refusal;
    }
    void OnWarning(std::string_view origin, std::string_view message) override {
      Encoder out;
      out.Str(origin).Str(message);
      runner_.Send(Type::kWarning, out.bytes());
    }
    bool ShouldStop() override {
      if (synchronous_stop_) return runner_.AskStop(*this);
      runner_.CheckIncoming(*this);
      runner_.output_.SendPollStop();
      return stop;
    }

    bool stop = false;
    Status refusal = Status::Ok();

   private:
    Runner& runner_;
    bool map_records_;
    bool synchronous_stop_;
  };

  bool Pull(const std::string& stream, const std::optional<std::string>& cursor, bool map_records,
            bool synchronous_stop) {
    Forwarder forwarder(*this, map_records, synchronous_stop);
    last_incoming_check_ = Clock::now();
    Status pulled = instance_->Pull(stream, cursor, forwarder);
    return Reply(pulled);
  }

  // Picks up kStop / kRefuse the hub sent during the pull, without waiting.
  void CheckIncoming(Forwarder& forwarder) {
    const Clock::time_point now = Clock::now();
    if (now - last_incoming_check_ < kIncomingEvery) return;
    last_incoming_check_ = now;
    Frame frame;
    while (ReadDuringPull(forwarder, frame, 0)) {
      std::_Exit(kExitProtocol);  // no other frame may arrive during a pull
    }
  }

  // should_stop by a round trip: the hub answers after everything emitted before it.
  bool AskStop(Forwarder& forwarder) {
    output_.Send(Type::kPollStop, {});
    output_.Flush();
    Frame frame;
    while (ReadDuringPull(forwarder, frame, -1)) {
      Decoder in(frame.body);
      const uint8_t answer = in.U8();
      if (frame.type != Type::kStopAnswer || !in.done()) std::_Exit(kExitProtocol);
      forwarder.stop = forwarder.stop || answer != 0;
      return forwarder.stop;
    }
    return forwarder.stop;
  }

  // Reads one frame during a pull; applies kStop and kRefuse itself. Returns true with any other
  // frame; false when nothing (more) is there within `timeout_ms`.
  bool ReadDuringPull(Forwarder& forwarder, Frame& frame, int timeout_ms) {
    for (;;) {
      Result<ReadOutcome> got = reader_.Next(frame, timeout_ms);
      if (!got.ok() || *got == ReadOutcome::kPeerClosed) HubGone();
      if (*got == ReadOutcome::kTimedOut) return false;
      if (frame.type == Type::kStop) {
        forwarder.stop = true;
      } else if (frame.type == Type::kRefuse) {
        Decoder in(frame.body);
        Status refusal = in.StatusValue();
        forwarder.refusal = refusal.ok() ? Status::Internal("refused") : refusal;
      } else {
        return true;
      }
    }
  }

  // --- output ----------------------------------------------------------------------------------

  Status SendRecord(Type type, const reglo_record& record, std::string_view tail) {
    if (EncodedRecordSize(record) + tail.size() + 64 > kMaxFrameBytes) {
      return Status::Internal(
          fmt::format("a record over the {} MiB a record may have in a "
                      "connector process",
                      kMaxFrameBytes >> 20));
    }
    scratch_.Clear();
    scratch_.Record(record);
    std::string body = scratch_.bytes();
    body.append(tail);
    Send(type, body);
    return Status::Ok();
  }

  void Send(Type type, std::string_view body) { output_.Send(type, body); }
  void Flush() { output_.Flush(); }

  FrameReader reader_;
  Output output_;
  Encoder scratch_;
  std::shared_ptr<plugin_host::LoadedPlugin> plugin_;
  std::unique_ptr<plugin_host::ConnectorInstance> instance_;
  Clock::time_point last_incoming_check_{};
  bool shutdown_ = false;
};

int Usage(const char* message) {
  std::fprintf(stderr,
               "%s%sreglo-connector-runner [--memory-limit-mb N]\n"
               "Runs one connector plugin for reglo-hub (sources with \"isolation\": \"process\"); "
               "it speaks the hub's framed protocol on stdin/stdout and is started by the hub, "
               "not by hand.\n",
               message, *message ? "\n" : "");
  return kExitUsage;
}

}  // namespace

int RunnerMain(int argc, char** argv) {
  long long memory_limit_mb = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--memory-limit-mb" && i + 1 < argc) {
      char* end = nullptr;
      memory_limit_mb = std::strtoll(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || memory_limit_mb < 0) {
        return Usage("error: --memory-limit-mb: expected a whole number of MiB (0: no limit)");
      }
    } else if (arg == "--help" || arg == "-h") {
      Usage("");
      return kExitOk;
    } else {
      return Usage(fmt::format("error: unknown argument '{}'", arg).c_str());
    }
  }
  if (::isatty(STDIN_FILENO)) return Usage("error: stdin is a terminal");

  // The protocol moves to private descriptors; the plugin's stdout goes to stderr and its stdin
  // reads nothing, so a plugin that prints cannot corrupt the frames.
  const int in = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  const int out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (in < 0 || out < 0) return kExitProtocol;
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::close(null);
  }
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  ::signal(SIGPIPE, SIG_IGN);  // a write to a hub that is gone fails with EPIPE instead
  ::signal(SIGINT, SIG_IGN);   // Ctrl-C is for the hub, which stops its pulls gracefully

  // Fewer malloc arenas: each thread's arena would count towards the limit as it grows.
  ::mallopt(M_ARENA_MAX, 2);
  // Out of memory under the limit: end with the exit code the hub explains, rather than unwind
  // through a plugin's C frames.
  std::set_new_handler([] { std::_Exit(kExitOutOfMemory); });
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // RLIMIT_DATA counts the heap and every private writable mapping (what a leak grows), not the
  // libraries' code. (AddressSanitizer and ThreadSanitizer map terabytes of shadow memory: no
  // limit under them; `make sanitize` leaves out the test of the limit.)
  if (memory_limit_mb > 0) {
    const rlim_t bytes = static_cast<rlim_t>(memory_limit_mb) << 20;
    const rlimit limit{bytes, bytes};
    if (::setrlimit(RLIMIT_DATA, &limit) != 0) {
      std::fprintf(stderr, "reglo-connector-runner: cannot set the memory limit: %s\n",
                   std::strerror(errno));
      return kExitUsage;
    }
  }
#endif

  // The hub going away (even by kill -9) closes the pipe's write end: end this process then,
  // whatever the plugin is doing.
  std::thread([in] {
    pollfd p{in, 0, 0};
    for (;;) {
      if (::poll(&p, 1, -1) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) HubGone();
    }
  }).detach();

  int code = kExitProtocol;
  try {
    // Never destroyed: its output thread may still wait on it while the process ends.
    auto* runner = new Runner(in, out);
    code = runner->Serve();  // the instance and the library are gone when it returns
  } catch (const std::bad_alloc&) {
    code = kExitOutOfMemory;
  } catch (...) {
    code = kExitProtocol;
  }
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace reglo::isolation
