#include "reglo/isolation/process_connector.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

extern char** environ;

namespace reglo::isolation {

using namespace protocol;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

// While waiting for the runner, the hub looks at deadlines and pending kills this often.
constexpr int kTickMs = 100;

std::string Seconds(milliseconds d) {
  return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000)
                               : fmt::format("{} ms", d.count());
}

}  // namespace

std::optional<Isolation> ParseIsolation(std::string_view text) {
  if (text == "in_process") return Isolation::kInProcess;
  if (text == "process") return Isolation::kProcess;
  return std::nullopt;
}

std::string_view IsolationName(Isolation isolation) {
  return isolation == Isolation::kProcess ? "process" : "in_process";
}

std::filesystem::path DefaultRunnerPath() {
  if (const char* env = std::getenv("REGLO_CONNECTOR_RUNNER"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "reglo-connector-runner";
  return self.parent_path() / "reglo-connector-runner";
}

ProcessConnector::ProcessConnector(const RunnerOptions& options, std::filesystem::path library)
    : options_(options), library_(std::move(library)) {
  if (options_.runner.empty()) options_.runner = DefaultRunnerPath();
  info_.path = library_;
}

Result<std::unique_ptr<ProcessConnector>> ProcessConnector::Start(
    const RunnerOptions& options, const std::filesystem::path& library) {
  std::unique_ptr<ProcessConnector> connector(new ProcessConnector(options, library));
  REGLO_RETURN_IF_ERROR(connector->Spawn());
  ProcessConnector& c = *connector;
  c.deadline_ = SteadyClock::now() + c.options_.start_timeout;
  Result<Frame> hello = c.Next();
  if (!hello.ok()) return hello.status();
  Decoder in(hello->body);
  const uint32_t magic = in.U32();
  const uint16_t major = in.U16();
  if (hello->type != Type::kHello || magic != kMagic || major != kVersionMajor) {
    return c.Ended(Status::Incompatible(
        fmt::format("{} does not speak connector protocol {} (it answered version {})",
                    c.options_.runner.string(), kVersionMajor, major)));
  }
  c.phase_ = "load";
  Encoder load;
  load.Str(library.string());
  REGLO_RETURN_IF_ERROR(c.Send(Type::kLoad, load.bytes()));
  Result<Frame> loaded = c.Await(Type::kLoaded);
  if (!loaded.ok()) return loaded.status();
  Decoder info(loaded->body);
  c.info_ = info.Info();
  if (!info.done()) {
    return c.Ended(Status::Internal("an undecodable plugin description: " + info.error()));
  }
  c.info_.path = library;
  c.deadline_.reset();
  return connector;
}

Status ProcessConnector::Spawn() {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return Status::IoError(fmt::format("socketpair: {}", ::strerror(errno)));
  }
  posix_spawn_file_actions_t files;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&files);
  ::posix_spawnattr_init(&attributes);
  // The child's end becomes its stdin and stdout; every other descriptor of the hub is closed.
  ::posix_spawn_file_actions_adddup2(&files, sockets[1], STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&files, sockets[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);
  sigset_t none;
  sigset_t all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  // Its own process group: a Ctrl-C at the hub's terminal is for the hub, which stops gracefully.
  ::posix_spawnattr_setpgroup(&attributes, 0);
  ::posix_spawnattr_setflags(
      &attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const std::string runner = options_.runner.string();
  const std::string limit = std::to_string(options_.memory_limit_mb);
  std::vector<char*> argv = {const_cast<char*>(runner.c_str()),
                             const_cast<char*>("--memory-limit-mb"),
                             const_cast<char*>(limit.c_str()), nullptr};
  const int spawned =
      ::posix_spawn(&pid_, runner.c_str(), &files, &attributes, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&files);
  ::posix_spawnattr_destroy(&attributes);
  ::close(sockets[1]);
  if (spawned != 0) {
    ::close(sockets[0]);
    pid_ = -1;
    ended_ = fmt::format("connector runner {} cannot be started: {}", runner, ::strerror(spawned));
    return Status::Internal(*ended_);
  }
  socket_ = sockets[0];
  reader_ = FrameReader(socket_);
  writer_ = FrameWriter(socket_);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  return Status::Ok();
}

ProcessConnector::~ProcessConnector() {
  if (pid_ > 0 && !ended_) {
    // Orderly: the runner destroys the instance and exits.
    if (writer_.Append(Type::kShutdown).ok() && writer_.Flush().ok()) {
      (void)WaitForExit(options_.shutdown_timeout, /*drain=*/true);
    }
  }
  if (pid_ > 0) Reap();
  if (socket_ >= 0) ::close(socket_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::string ProcessConnector::Who() const {
  return info_.name.empty() ? library_.string() : info_.name;
}

void ProcessConnector::Signal(int signal) {
  // Under kill_mutex_: the process is not reaped yet, so its pid (and pidfd) name our child.
  if (reaped_ || pid_ <= 0) return;
  if (pidfd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0);
  } else {
    ::kill(pid_, signal);
  }
  kill_signal_ = signal;
}

void ProcessConnector::Kill(const std::string& reason) {
  std::lock_guard<std::mutex> lock(kill_mutex_);
  if (reaped_ || kill_signal_ != 0) return;
  kill_reason_ = reason;
  term_sent_at_ = SteadyClock::now();
  Signal(SIGTERM);
}

bool ProcessConnector::WaitForExit(milliseconds timeout, bool drain) {
  const SteadyTime until = SteadyClock::now() + timeout;
  for (;;) {
    pollfd fds[2] = {{pidfd_, POLLIN, 0}, {socket_, POLLIN, 0}};
    const auto left = std::chrono::duration_cast<milliseconds>(until - SteadyClock::now());
    if (left.count() <= 0) return false;
    const int ready = ::poll(fds, drain ? 2 : 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return false;
    if (fds[0].revents & POLLIN) return true;
    if (pidfd_ < 0) {
      // No pidfd (old kernel): look now and then.
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG | WNOWAIT) == pid_) return true;
      ::poll(nullptr, 0, 10);
    }
    if (drain && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      // Whatever the runner still says (logs of its destroy) is read and dropped, so it never
      // blocks on a full socket; at its end of file there is nothing more to drain.
      Frame ignored;
      for (;;) {
        Result<ReadOutcome> got = reader_.Next(ignored, 0);
        if (!got.ok() || *got == ReadOutcome::kPeerClosed) drain = false;
        if (!got.ok() || *got != ReadOutcome::kFrame) break;
      }
    }
  }
}

void ProcessConnector::Reap() {
  {
    std::lock_guard<std::mutex> lock(kill_mutex_);
    if (reaped_) return;
  }
  if (!WaitForExit(options_.term_grace, /*drain=*/true)) {
    std::lock_guard<std::mutex> lock(kill_mutex_);
    Signal(SIGKILL);
  }
  int status = 0;
  rusage usage{};
  pid_t waited;
  do {
    waited = ::wait4(pid_, &status, 0, &usage);
  } while (waited < 0 && errno == EINTR);
  std::lock_guard<std::mutex> lock(kill_mutex_);
  reaped_ = true;
  if (ended_) return;
  // What the rest of the hub reads about this child: how it ended, and during what.
  std::string how;
  if (waited != pid_) {
    how = "connector process ended (its exit status is unknown)";
  } else if (kill_signal_ != 0 && !kill_reason_.empty()) {
    how = fmt::format("connector process killed by the hub ({}): {}",
                      SignalName(WIFSIGNALED(status) ? WTERMSIG(status) : kill_signal_),
                      kill_reason_);
  } else if (WIFSIGNALED(status)) {
    how = fmt::format("connector process crashed: signal {} ({})", WTERMSIG(status),
                      SignalName(WTERMSIG(status)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kExitOutOfMemory) {
    how =
        fmt::format("connector process ran out of memory (limit {} MiB)", options_.memory_limit_mb);
  } else if (WIFEXITED(status)) {
    how = fmt::format("connector process exited with code {}", WEXITSTATUS(status));
  }
  how += fmt::format(" during {}", phase_);
  const uint64_t peak_mib = static_cast<uint64_t>(usage.ru_maxrss) / 1024;  // ru_maxrss: KiB
  if (waited == pid_ && options_.memory_limit_mb > 0 &&
      peak_mib * 4 >= options_.memory_limit_mb * 3 &&
      !(WIFEXITED(status) && WEXITSTATUS(status) == kExitOutOfMemory)) {
    how += fmt::format("; it had used {} MiB of its {} MiB memory limit", peak_mib,
                       options_.memory_limit_mb);
  }
  ended_ = std::move(how);
}

Status ProcessConnector::Ended(const Status& cause) {
  if (!ended_) {
    // The runner broke the protocol, or the hub cannot talk to it: it has to go.
    std::lock_guard<std::mutex> lock(kill_mutex_);
    if (kill_reason_.empty()) kill_reason_ = "it broke the protocol (" + cause.message() + ")";
    Signal(SIGKILL);
  }
  return EndedByRunner();
}

Status ProcessConnector::EndedByRunner() {
  if (!ended_) Reap();
  return Status::Internal(fmt::format("{}: {}", Who(), *ended_));
}

Status ProcessConnector::Gone() const {
  return Status::Internal(
      fmt::format("{}: connector process is no longer running ({})", Who(), *ended_));
}

Status ProcessConnector::Send(Type type, std::string_view body) {
  if (ended_) return Gone();
  Status appended = writer_.Append(type, body);
  if (!appended.ok()) return appended;
  Status flushed = writer_.Flush();
  // A runner that is gone shows as a failed write; why it went is what Reap() finds.
  if (!flushed.ok()) return EndedByRunner();
  return Status::Ok();
}

Result<Frame> ProcessConnector::Next() {
  if (ended_) return Gone();
  for (;;) {
    Frame frame;
    Result<ReadOutcome> got = reader_.Next(frame, kTickMs);
    if (!got.ok()) return Ended(got.status());
    if (*got == ReadOutcome::kPeerClosed) return EndedByRunner();
    if (*got == ReadOutcome::kFrame) {
      if (frame.type == Type::kLog) {
        Decoder in(frame.body);
        const uint8_t wire_level = in.U8();
        const std::optional<reglo_log_level> level = LogLevelFromWire(wire_level);
        if (in.ok() && !level) in.Fail(fmt::format("a log level of {}", wire_level));
        const std::string_view message = in.Str();
        if (!in.done()) return Ended(Status::Internal("an undecodable log frame: " + in.error()));
        if (log_) {
          // Parity with in-process: a log callback that throws fails the call (see ResultOf).
          try {
            log_(*level, message);
          } catch (const std::exception& error) {
            if (host_failure_.ok()) host_failure_ = plugin_host::HostFailure(error.what());
          } catch (...) {
            if (host_failure_.ok())
              host_failure_ = plugin_host::HostFailure("an unknown exception");
          }
        }
        continue;
      }
      return frame;
    }
    const SteadyTime now = SteadyClock::now();
    {
      std::lock_guard<std::mutex> lock(kill_mutex_);
      if (kill_signal_ == SIGTERM && now - term_sent_at_ >= options_.term_grace) {
        Signal(SIGKILL);
        kill_reason_ += fmt::format(" (it ignored SIGTERM for {})", Seconds(options_.term_grace));
      }
    }
    if (deadline_ && now >= *deadline_) {
      deadline_.reset();
      Kill(fmt::format("no answer within {}", Seconds(options_.start_timeout)));
    }
  }
}

Status ProcessConnector::ResultOf(const Frame& frame) {
  Decoder in(frame.body);
  Status status = in.StatusValue();
  const uint32_t retry_after = in.U32();
  if (!in.done()) return Ended(Status::Internal("an undecodable result"));
  retry_after_ms_ = retry_after;
  if (!host_failure_.ok()) return std::exchange(host_failure_, Status::Ok());
  return status;
}

Result<Frame> ProcessConnector::Await(Type expected) {
  Result<Frame> frame = Next();
  if (!frame.ok()) return frame.status();
  if (frame->type == expected) return frame;
  if (frame->type == Type::kResult) {
    Status status = ResultOf(*frame);
    if (status.ok()) return Ended(Status::Internal("an OK result where another reply belongs"));
    return status;
  }
  return Ended(Status::Internal(
      fmt::format("a frame of type {} out of place", static_cast<int>(frame->type))));
}

Status ProcessConnector::Call(Type type, const char* phase) {
  phase_ = phase;
  REGLO_RETURN_IF_ERROR(Send(type));
  Result<Frame> reply = Await(Type::kResult);
  if (!reply.ok()) return reply.status();
  return ResultOf(*reply);
}

Status ProcessConnector::Create(const std::string& config_json,
                                std::optional<milliseconds> deadline) {
  phase_ = "create";
  if (deadline) deadline_ = SteadyClock::now() + *deadline;
  Encoder out;
  out.Str(config_json);
  Status sent = Send(Type::kCreate, out.bytes());
  Status created = sent;
  if (sent.ok()) {
    Result<Frame> reply = Await(Type::kResult);
    created = reply.ok() ? ResultOf(*reply) : reply.status();
  }
  deadline_.reset();
  return created;
}

Status ProcessConnector::Destroy(std::optional<milliseconds> deadline) {
  if (deadline) deadline_ = SteadyClock::now() + *deadline;
  Status destroyed = Call(Type::kDestroy, "destroy");
  deadline_.reset();
  return destroyed;
}

Status ProcessConnector::Authenticate() {
  return Call(Type::kAuthenticate, "authenticate");
}

Status ProcessConnector::HealthCheck() {
  return Call(Type::kHealthCheck, "health check");
}

Result<std::vector<std::string>> ProcessConnector::ListStreams() {
  phase_ = "list streams";
  REGLO_RETURN_IF_ERROR(Send(Type::kListStreams));
  Result<Frame> reply = Await(Type::kStreams);
  if (!reply.ok()) return reply.status();
  Decoder in(reply->body);
  // Each name is at least its u32 length: a count the body cannot hold is refused before any
  // allocation.
  const uint32_t count = in.Count(4, kMaxListEntries);
  std::vector<std::string> streams;
  streams.reserve(count);
  for (uint32_t i = 0; i < count && in.ok(); ++i) streams.emplace_back(in.Str());
  if (!in.done()) return Ended(Status::Internal("an undecodable stream list: " + in.error()));
  retry_after_ms_ = 0;
  if (!host_failure_.ok()) return std::exchange(host_failure_, Status::Ok());
  return streams;
}

Status ProcessConnector::Pull(const std::string& stream,
                              const std::optional<std::string>& since_cursor,
                              plugin_host::PullHandler& handler) {
  phase_ = fmt::format("pull of stream '{}'", stream);
  Encoder request;
  // The runner maps each record as it is emitted: the pipeline maps every record it gets.
  request.Str(stream)
      .OptStr(since_cursor)
      .U8(kPullMapRecords | (synchronous_stop_ ? kPullSynchronousStop : 0));
  REGLO_RETURN_IF_ERROR(Send(Type::kPull, request.bytes()));
  in_pull_ = true;
  Status failure = Status::Ok();  // the first failure on the hub's side ends the pull
  bool stop_sent = false;
  OwnedRecord record;
  canonical_count_ = 0;
  size_t canonical_bytes = 0;  // held for the next record: bounded, the runner may be hostile
  auto refuse = [&](const Status& status) {
    Encoder out;
    out.StatusValue(status);
    (void)Send(Type::kRefuse, out.bytes());  // a runner gone shows at the next read
  };
  for (;;) {
    Result<Frame> frame = Next();
    if (!frame.ok()) {
      in_pull_ = false;
      return frame.status();
    }
    if (!host_failure_.ok() && failure.ok()) {
      failure = host_failure_;  // the plugin hears of it at its next emit, as in-process
      refuse(failure);
    }
    Decoder in(frame->body);
    switch (frame->type) {
      case Type::kCanonical:
        canonical_bytes += frame->body.size();
        if (canonical_count_ >= kMaxCanonicalPerRecord ||
            canonical_bytes > kMaxCanonicalBytesPerRecord) {
          in_pull_ = false;
          return Ended(Status::Internal(fmt::format(
              "the canonical records of one source record are over the limit ({} records, {} "
              "MiB)",
              kMaxCanonicalPerRecord, kMaxCanonicalBytesPerRecord >> 20)));
        }
        if (canonical_.size() <= canonical_count_) canonical_.resize(canonical_count_ + 1);
        if (!canonical_[canonical_count_].Decode(in) || !in.done()) break;
        ++canonical_count_;
        continue;
      case Type::kRecord: {
        if (!record.Decode(in)) break;
        const bool mapped = in.U8() != 0;
        Status map_status = in.StatusValue();
        if (!in.done()) break;
        canonical_bytes = 0;
        if (failure.ok()) {
          premapped_ = mapped ? &record.view() : nullptr;
          premap_status_ = std::move(map_status);
          failure = handler.OnRecord(record.view());
          premapped_ = nullptr;
          if (!failure.ok()) refuse(failure);
        }
        canonical_count_ = 0;
        continue;
      }
      case Type::kCheckpoint: {
        const std::string_view cursor = in.Str();
        const uint64_t count = in.U64();
        if (!in.done()) break;
        if (failure.ok()) {
          failure = handler.OnCheckpoint(cursor, count);
          if (!failure.ok()) refuse(failure);
        }
        continue;
      }
      case Type::kWarning: {
        const std::string_view origin = in.Str();
        const std::string_view message = in.Str();
        if (!in.done()) break;
        handler.OnWarning(origin, message);
        continue;
      }
      case Type::kPollStop:
        if (synchronous_stop_) {
          Encoder answer;
          answer.U8(handler.ShouldStop() ? 1 : 0);
          (void)Send(Type::kStopAnswer, answer.bytes());
        } else if (handler.ShouldStop() && !stop_sent) {
          stop_sent = true;
          (void)Send(Type::kStop);
        }
        continue;
      case Type::kResult: {
        in_pull_ = false;
        Status pulled = ResultOf(*frame);
        // A failure on the hub's side (store down, record refused) explains the end best.
        return failure.ok() ? pulled : failure;
      }
      default: break;
    }
    in_pull_ = false;
    const std::string why = in.error();
    return Ended(Status::Internal(fmt::format("an undecodable or unexpected frame (type {}){}",
                                              static_cast<int>(frame->type),
                                              why.empty() ? "" : ": " + why)));
  }
}

Status ProcessConnector::MapToCanonical(const reglo_record& source,
                                        const plugin_host::CanonicalCallback& callback) {
  if (premapped_ != nullptr && &source == premapped_) {
    // The record being delivered: the runner mapped it when the plugin emitted it.
    for (size_t i = 0; i < canonical_count_; ++i) {
      REGLO_RETURN_IF_ERROR(callback(canonical_[i].view()));
    }
    return premap_status_;
  }
  if (in_pull_) {
    return Status::Internal(
        "with process isolation, only the record being delivered can be mapped during a pull");
  }
  phase_ = "map to canonical";
  Encoder out;
  out.Record(source);
  REGLO_RETURN_IF_ERROR(Send(Type::kMap, out.bytes()));
  Status failure = Status::Ok();
  OwnedRecord canonical;
  for (;;) {
    Result<Frame> frame = Next();
    if (!frame.ok()) return frame.status();
    if (frame->type == Type::kResult) {
      Status mapped = ResultOf(*frame);
      return failure.ok() ? mapped : failure;
    }
    Decoder in(frame->body);
    if (frame->type != Type::kCanonical || !canonical.Decode(in) || !in.done()) {
      const std::string why = in.error();
      return Ended(Status::Internal("an unexpected frame while mapping" +
                                    (why.empty() ? std::string() : ": " + why)));
    }
    if (failure.ok()) failure = callback(canonical.view());
  }
}

Result<plugin_host::PluginInfo> ProbePlugin(const RunnerOptions& options,
                                            const std::filesystem::path& library,
                                            const ProbeConfigs& configs) {
  const std::string file = library.string();
  auto refuse = [&](const std::string& how) {
    return Status::InvalidArgument(
        fmt::format("plugin {} refused: {} (probed in a connector process)", file, how));
  };
  Result<std::unique_ptr<ProcessConnector>> started = ProcessConnector::Start(options, library);
  if (!started.ok()) {
    // A refusal by the plugin host (no entry symbol, another ABI...) already names the file.
    if (started.status().message().rfind("plugin " + file + " refused", 0) == 0) {
      return started.status();
    }
    std::string how = started.status().message();
    if (how.rfind(file + ": ", 0) == 0) how.erase(0, file.size() + 2);
    return refuse(how);
  }
  ProcessConnector& probe = **started;
  if (configs) {
    for (const auto& [label, config] : configs(probe.plugin_info())) {
      Status created = probe.Create(config, options.start_timeout);
      if (probe.ended())
        return refuse(fmt::format("{} with the configuration of {}", *probe.ended(), label));
      if (!created.ok()) continue;  // a clean refusal: the source's runs will say why
      (void)probe.Destroy(options.start_timeout);
      if (probe.ended())
        return refuse(fmt::format("{} with the configuration of {}", *probe.ended(), label));
    }
  }
  return probe.plugin_info();
}

}  // namespace reglo::isolation
