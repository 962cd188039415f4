// Process isolation at the component level: the frame codec, and ProcessConnector against real
// runner children (build/bin/reglo-connector-runner) hosting real test plugins — the working
// counter connector compared call by call with the same plugin in-process, and the broken ones
// that crash, abort, hang, leak or emit a 100 MB record. After each test no child is left behind
// (not even a zombie).
#include "reglo/isolation/process_connector.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "abi_record.h"
#include "reglo/isolation/protocol.h"
#include "temp_dir.h"

namespace reglo::isolation {
namespace {

using ::testing::HasSubstr;

std::filesystem::path PluginPath(const std::string& name) {
  return std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / (name + ".so");
}

RunnerOptions Options() {
  RunnerOptions options;
  options.runner = REGLO_RUNNER_BINARY;
  return options;
}

// Everything a pull delivers, with each record's canonical mapping taken inside OnRecord (as the
// pipeline does).
struct Captured final : plugin_host::PullHandler {
  explicit Captured(plugin_host::ConnectorInstance& c) : connector(c) {}
  plugin_host::ConnectorInstance& connector;
  std::vector<std::string> events;  // "record S000001 -> student S000001", "checkpoint 4 (4)"
  std::vector<std::string> warnings;
  size_t stop_after = SIZE_MAX;     // ShouldStop() answers true once this many records came
  size_t refuse_record = SIZE_MAX;  // OnRecord refuses the record with this index
  std::promise<void> first_record;  // set at the first record
  bool first_seen = false;
  size_t records = 0;

  Status OnRecord(const reglo_record& record) override {
    if (!first_seen) {
      first_seen = true;
      first_record.set_value();
    }
    if (records++ == refuse_record) return Status::Retryable("store is down");
    std::string line = std::string("record ") + record.external_id + " ->";
    Status mapped = connector.MapToCanonical(record, [&](const reglo_record& canonical) {
      line += std::string(" ") + canonical.entity + " " + canonical.external_id;
      for (size_t i = 0; i < canonical.field_count; ++i) {
        line += std::string(" ") + canonical.fields[i].name + "=" +
                std::string(canonical.fields[i].value, canonical.fields[i].value_len);
      }
      return Status::Ok();
    });
    if (!mapped.ok()) line += " map error " + mapped.message();
    events.push_back(line);
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view cursor, uint64_t count) override {
    events.push_back("checkpoint " + std::string(cursor) + " (" + std::to_string(count) + ")");
    return Status::Ok();
  }
  void OnWarning(std::string_view origin, std::string_view message) override {
    warnings.push_back(std::string(origin) + ": " + std::string(message));
  }
  bool ShouldStop() override { return records >= stop_after; }
};

class ProcessConnectorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every runner was reaped: this process has no child left, not even a zombie.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }

  std::unique_ptr<ProcessConnector> Start(const std::string& plugin,
                                          const RunnerOptions& options = Options()) {
    auto started = ProcessConnector::Start(options, PluginPath(plugin));
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(*started) : nullptr;
  }
};

TEST(ProtocolTest, RecordsRoundTripKeepingAbsentApartFromEmptyAndBytesAsTheyAre) {
  reglo_field fields[3] = {{"a", nullptr, 0}, {"b", "", 0}, {"c", "x\0\xff", 3}};
  const reglo_record record = testing::AbiRecord("student", "S1", fields, 3);
  protocol::Encoder out;
  out.Record(record);
  EXPECT_EQ(out.bytes().size(), protocol::EncodedRecordSize(record));
  protocol::Decoder in(out.bytes());
  protocol::OwnedRecord decoded;
  ASSERT_TRUE(decoded.Decode(in));
  EXPECT_TRUE(in.done());
  const reglo_record& r = decoded.view();
  EXPECT_STREQ(r.entity, "student");
  EXPECT_STREQ(r.external_id, "S1");
  EXPECT_EQ(r.source_updated_at, nullptr);
  EXPECT_EQ(r.origin, nullptr);
  ASSERT_EQ(r.field_count, 3u);
  EXPECT_EQ(r.fields[0].value, nullptr);
  ASSERT_NE(r.fields[1].value, nullptr);
  EXPECT_EQ(r.fields[1].value_len, 0u);
  EXPECT_EQ(std::string(r.fields[2].value, r.fields[2].value_len), std::string("x\0\xff", 3));
}

TEST(ProtocolTest, ReadsAFrameThenTimesOutThenSeesThePeerClose) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  protocol::FrameWriter writer(fds[1]);
  ASSERT_TRUE(writer.Append(protocol::Type::kShutdown, "x").ok());
  ASSERT_TRUE(writer.Flush().ok());
  protocol::FrameReader reader(fds[0]);
  protocol::Frame frame;
  Result<protocol::ReadOutcome> got = reader.Next(frame, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, protocol::ReadOutcome::kFrame);
  EXPECT_EQ(frame.type, protocol::Type::kShutdown);
  EXPECT_EQ(frame.body, "x");
  got = reader.Next(frame, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, protocol::ReadOutcome::kTimedOut);
  ::close(fds[1]);
  got = reader.Next(frame, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, protocol::ReadOutcome::kPeerClosed);
  ::close(fds[0]);
}

TEST(ProtocolTest, AFrameOverTheLimitIsRefusedBeforeItIsRead) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const unsigned char header[5] = {0xff, 0xff, 0xff, 0x7f, 5};  // ~2 GiB announced
  ASSERT_EQ(::write(fds[1], header, sizeof header), 5);
  protocol::FrameReader reader(fds[0]);
  protocol::Frame frame;
  Result<protocol::ReadOutcome> got = reader.Next(frame, 0);
  EXPECT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("the protocol allows 1 to 67108864"));
  ::close(fds[0]);
  ::close(fds[1]);
  protocol::FrameWriter writer(-1);
  EXPECT_FALSE(
      writer.Append(protocol::Type::kLog, std::string(protocol::kMaxFrameBytes, 'x')).ok());
}

// The hostile frames fuzzing found (issue 14 §6): counts that claim more items than the body can
// hold are refused before anything is allocated for them, with the reason.
TEST(ProtocolTest, ARecordClaimingTwoBillionFieldsIsRefusedBeforeAllocating) {
  // The 14-byte frame's body: upsert, four absent texts, field count 0x7fffffff, nothing more.
  const std::string body("\x00\x00\x00\x00\x00\xff\xff\xff\x7f", 9);
  protocol::Decoder in(body);
  protocol::OwnedRecord record;
  EXPECT_FALSE(record.Decode(in));
  EXPECT_THAT(in.error(), HasSubstr("a count of 2147483647"));
}

TEST(ProtocolTest, ARecordOverTheFieldLimitIsRefusedEvenWhenTheBytesAreThere) {
  protocol::Encoder out;
  out.U8(0).U8(0).U8(0).U8(0).U8(0).U32(protocol::kMaxRecordFields + 1);
  for (uint32_t i = 0; i <= protocol::kMaxRecordFields; ++i) out.U8(0).U8(0);
  protocol::Decoder in(out.bytes());
  protocol::OwnedRecord record;
  EXPECT_FALSE(record.Decode(in));
  EXPECT_THAT(in.error(), HasSubstr("at most 65536"));
}

TEST(ProtocolTest, WireEnumsAreCheckedBeforeTheyAreCast) {
  EXPECT_EQ(protocol::OperationFromWire(1), REGLO_OP_DELETE);
  EXPECT_EQ(protocol::OperationFromWire(2), std::nullopt);
  EXPECT_EQ(protocol::LogLevelFromWire(3), REGLO_LOG_ERROR);
  EXPECT_EQ(protocol::LogLevelFromWire(255), std::nullopt);
  protocol::Encoder out;
  out.U8(7).U8(0).U8(0).U8(0).U8(0).U32(0);  // operation 7
  protocol::Decoder in(out.bytes());
  protocol::OwnedRecord record;
  EXPECT_FALSE(record.Decode(in));
  EXPECT_THAT(in.error(), HasSubstr("an operation of 7"));
}

TEST(ProtocolTest, APluginDescriptionClaimingTwoBillionEntitiesIsRefused) {
  protocol::Encoder out;
  out.Str("x").Str("1").Str("").Str("").U32(0x7fffffff);
  protocol::Decoder in(out.bytes());
  const plugin_host::PluginInfo info = in.Info();
  EXPECT_FALSE(in.ok());
  EXPECT_TRUE(info.entities.empty());
  EXPECT_THAT(in.error(), HasSubstr("a count of 2147483647"));
}

TEST(ProtocolTest, IsolationValues) {
  EXPECT_EQ(ParseIsolation("process"), Isolation::kProcess);
  EXPECT_EQ(ParseIsolation("in_process"), Isolation::kInProcess);
  EXPECT_EQ(ParseIsolation("Process"), std::nullopt);
  EXPECT_EQ(IsolationName(Isolation::kProcess), "process");
}

TEST_F(ProcessConnectorTest, BehavesLikeTheSamePluginInProcess) {
  const std::string config = R"({"records": 10, "checkpoint_every": 4})";
  auto loaded = plugin_host::LoadedPlugin::Load(PluginPath("counter"));
  ASSERT_TRUE(loaded.ok());
  auto local = (*loaded)->CreateInstance(config);
  ASSERT_TRUE(local.ok());

  std::unique_ptr<ProcessConnector> remote = Start("counter");
  ASSERT_NE(remote, nullptr);
  EXPECT_GT(remote->pid(), 0);
  EXPECT_EQ(remote->plugin_info().name, "counter");
  EXPECT_EQ(remote->plugin_info().version, (*loaded)->info().version);
  EXPECT_EQ(remote->plugin_info().entities, (*loaded)->info().entities);
  EXPECT_EQ(remote->plugin_info().config_schema_json, (*loaded)->info().config_schema_json);
  EXPECT_EQ(remote->plugin_info().path, PluginPath("counter"));
  ASSERT_TRUE(remote->Create(config).ok());
  EXPECT_TRUE(remote->Authenticate().ok());
  EXPECT_TRUE(remote->HealthCheck().ok());
  auto streams = remote->ListStreams();
  ASSERT_TRUE(streams.ok());
  EXPECT_EQ(*streams, *(*local)->ListStreams());

  for (const std::optional<std::string>& cursor :
       {std::optional<std::string>(), std::optional<std::string>("4")}) {
    Captured in_process(**local);
    Captured isolated(*remote);
    Status a = (*local)->Pull("student", cursor, in_process);
    Status b = remote->Pull("student", cursor, isolated);
    EXPECT_EQ(a.ToString(), b.ToString());
    EXPECT_EQ(in_process.events, isolated.events);
    EXPECT_EQ(isolated.events.size(), cursor ? 6u + 2u : 10u + 3u);
  }

  // Stop requested after 3 records, should_stop answered synchronously: exactly as in-process.
  remote->set_synchronous_stop(true);
  Captured in_process(**local);
  Captured isolated(*remote);
  in_process.stop_after = isolated.stop_after = 3;
  Status a = (*local)->Pull("student", std::nullopt, in_process);
  Status b = remote->Pull("student", std::nullopt, isolated);
  EXPECT_EQ(b.code(), StatusCode::kRetryable);
  EXPECT_EQ(a.ToString(), b.ToString());
  EXPECT_EQ(in_process.events, isolated.events);
  remote->set_synchronous_stop(false);

  // The host refuses a record: the pull ends with the host's reason, nothing after it is taken.
  Captured refused(*remote);
  refused.refuse_record = 5;
  Status c = remote->Pull("student", std::nullopt, refused);
  EXPECT_EQ(c.ToString(), Status::Retryable("store is down").ToString());
  EXPECT_EQ(refused.events.back(),
            "record S000004 -> student S000004 firstName=Name4-r1 "
            "lastName=Rossi fiscalCode=RSSMRA85T10A562S birthDate=1985-12-10 "
            "email=s4@example.com phone=+393330000004");

  // Outside a pull any record maps (a round trip).
  reglo_field field{"firstName", "Ada", 3};
  const reglo_record record = testing::AbiRecord("student", "X1", &field, 1);
  std::string mapped;
  ASSERT_TRUE(remote
                  ->MapToCanonical(record,
                                   [&](const reglo_record& canonical) {
                                     mapped = std::string(canonical.external_id) + " " +
                                              canonical.fields[0].name;
                                     return Status::Ok();
                                   })
                  .ok());
  EXPECT_EQ(mapped, "X1 firstName");
  EXPECT_FALSE(remote->ended());
}

// The C ABI's codes from a plugin are int32: the runner's plugin host checks them before anything
// reaches the wire, so the hub hears what an in-process hub would, never a truncated value.
TEST_F(ProcessConnectorTest, UnknownCodesFromThePluginAreHandledAsInProcess) {
  std::unique_ptr<ProcessConnector> remote = Start("unknown_codes");
  ASSERT_NE(remote, nullptr);
  std::vector<std::pair<reglo_log_level, std::string>> lines;
  remote->SetLogCallback(
      [&](reglo_log_level level, std::string_view message) { lines.emplace_back(level, message); });

  ASSERT_TRUE(remote->Create(R"({"unknown_status": 42, "unknown_level": 9})").ok());
  Captured status(*remote);
  Status pulled = remote->Pull("student", std::nullopt, status);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_THAT(pulled.message(), HasSubstr("the plugin answered unknown status code 42"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, REGLO_LOG_INFO);
  EXPECT_EQ(lines[0].second, "(unknown log level 9) a line from the future");

  // 256 would be 0 (upsert) in the wire's byte: refused before it is encoded.
  ASSERT_TRUE(remote->Create(R"({"unknown_operation": 256})").ok());
  Captured operation(*remote);
  pulled = remote->Pull("student", std::nullopt, operation);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_THAT(pulled.message(), HasSubstr("record ('S000000') with unknown operation 256"));
  EXPECT_TRUE(operation.events.empty());
  EXPECT_FALSE(remote->ended());
}

TEST_F(ProcessConnectorTest, APluginBuiltAgainstANewerMinorIsRefusedNamingBothVersions) {
  auto started = ProcessConnector::Start(Options(), PluginPath("abi_newer_minor"));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kIncompatible);
  EXPECT_THAT(started.status().message(),
              HasSubstr(fmt::format("the plugin cannot speak this hub's ABI {}.{} (it was built "
                                    "against ABI {}.{})",
                                    REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR,
                                    REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR + 1)));
  auto tolerant = Start("abi_newer_minor_tolerant");
  ASSERT_NE(tolerant, nullptr);
  EXPECT_EQ(tolerant->plugin_info().abi_minor, REGLO_ABI_VERSION_MINOR + 1);
}

// The runner maps each record from inside the plugin's emit_record, with its pull_changes on the
// stack (the re-entrancy connector.h states); the plugin counted those calls.
TEST_F(ProcessConnectorTest, TheRunnerMapsFromInsideEmitRecordDuringThePull) {
  std::unique_ptr<ProcessConnector> remote = Start("reentrancy");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 3})").ok());
  Captured captured(*remote);
  ASSERT_TRUE(remote->Pull("student", std::nullopt, captured).ok());
  EXPECT_THAT(
      captured.warnings,
      ::testing::ElementsAre("reentrancy: map_to_canonical ran 3 times inside pull_changes"));
}

// As in-process: the hub's log callback throwing is the call's failure (never an exception out of
// ProcessConnector), and the runner goes on serving.
TEST_F(ProcessConnectorTest, ALogCallbackThatThrowsFailsThePullAsInProcess) {
  std::unique_ptr<ProcessConnector> remote = Start("counter");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 3, "log_each_record": 1})").ok());
  remote->SetLogCallback(
      [](reglo_log_level, std::string_view) { throw std::runtime_error("log exploded"); });
  Captured captured(*remote);
  Status pulled = remote->Pull("student", std::nullopt, captured);
  EXPECT_EQ(pulled.ToString(),
            Status::Internal("the host failed while serving the plugin: log exploded").ToString());
  remote->SetLogCallback({});
  Captured again(*remote);
  EXPECT_TRUE(remote->Pull("student", std::nullopt, again).ok());
  EXPECT_EQ(again.records, 3u);
}

TEST_F(ProcessConnectorTest, AStopReachesTheRunnerWithoutARoundTripPerPoll) {
  std::unique_ptr<ProcessConnector> remote = Start("counter");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 100000000, "checkpoint_every": 1000})").ok());
  Captured captured(*remote);
  captured.stop_after = 3;
  Status pulled = remote->Pull("student", std::nullopt, captured);
  EXPECT_EQ(pulled.code(), StatusCode::kRetryable);
  EXPECT_GE(captured.records, 3u);
  EXPECT_LT(captured.records, 100000000u);  // stopped long before the end
}

TEST_F(ProcessConnectorTest, CreateErrorsComeBackAsTheyWouldInProcess) {
  std::unique_ptr<ProcessConnector> remote = Start("create_fails");
  ASSERT_NE(remote, nullptr);
  Status created = remote->Create("{}");
  EXPECT_EQ(created.code(), StatusCode::kConfigError);
  EXPECT_THAT(created.message(), HasSubstr("option 'records' must be positive"));
  EXPECT_THAT(created.message(), HasSubstr("create_fails.so (create_fails) could not create"));
}

TEST_F(ProcessConnectorTest, ASegfaultInPullEndsOnlyTheRunnerAfterWhatItDelivered) {
  std::unique_ptr<ProcessConnector> remote = Start("segfault_in_pull");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 10, "checkpoint_every": 4, "crash_at": 6})").ok());
  Captured captured(*remote);
  Status pulled = remote->Pull("student", std::nullopt, captured);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_EQ(pulled.message(),
            "segfault_in_pull: connector process crashed: signal 11 (SIGSEGV) during pull of "
            "stream 'student'");
  // The checkpoint after record 3 came through before the crash (it is sent at once); records 4
  // and 5 may or may not have (they were never covered by a checkpoint).
  ASSERT_GE(captured.events.size(), 5u);
  ASSERT_LE(captured.events.size(), 7u);
  EXPECT_EQ(captured.events[4], "checkpoint 4 (4)");
  ASSERT_TRUE(remote->ended());
  // Later calls say so at once.
  Status again = remote->HealthCheck();
  EXPECT_THAT(again.message(), HasSubstr("connector process is no longer running (connector "
                                         "process crashed: signal 11 (SIGSEGV)"));
}

TEST_F(ProcessConnectorTest, ARunnerKilledFromOutsideIsReportedAndNeverSignalsTheHub) {
  std::unique_ptr<ProcessConnector> remote = Start("counter");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create("{}").ok());
  ASSERT_EQ(::kill(remote->pid(), SIGKILL), 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(remote->pid()), &info, WEXITED | WNOWAIT), 0);
  // The next request is written to a socket nobody reads any more: an error, not a SIGPIPE.
  Status health = remote->HealthCheck();
  EXPECT_EQ(health.message(),
            "counter: connector process crashed: signal 9 (SIGKILL) during health check");
}

TEST_F(ProcessConnectorTest, AnAbortInCreateIsReportedAsSuch) {
  std::unique_ptr<ProcessConnector> remote = Start("abort_in_create");
  ASSERT_NE(remote, nullptr);
  Status created = remote->Create("{}");
  EXPECT_EQ(created.message(),
            "abort_in_create: connector process crashed: signal 6 (SIGABRT) during create");
}

TEST_F(ProcessConnectorTest, AHundredMegabyteRecordIsRefusedWithTheReason) {
  std::unique_ptr<ProcessConnector> remote = Start("huge_record");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 10, "checkpoint_every": 2, "huge_at": 3})").ok());
  Captured captured(*remote);
  Status pulled = remote->Pull("student", std::nullopt, captured);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_THAT(pulled.message(), HasSubstr("the plugin emitted a record of 100.0 MiB ('S000003'), "
                                          "over the 64 MiB a record may have"));
  // Records 0 and 1, their checkpoint, and record 2 came through.
  ASSERT_EQ(captured.events.size(), 4u);
  EXPECT_EQ(captured.events[2], "checkpoint 2 (2)");
  EXPECT_EQ(captured.records, 3u);
  EXPECT_FALSE(remote->ended());  // a clean refusal: the runner is still there
  EXPECT_TRUE(remote->HealthCheck().ok());
}

TEST_F(ProcessConnectorTest, AnUnboundedLeakHitsTheMemoryLimit) {
  RunnerOptions options = Options();
  options.memory_limit_mb = 128;
  std::unique_ptr<ProcessConnector> remote = Start("leak", options);
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create("{}").ok());
  Captured captured(*remote);
  Status pulled = remote->Pull("student", std::nullopt, captured);
  EXPECT_THAT(pulled.message(), HasSubstr("leak: connector process crashed: signal 11 (SIGSEGV) "
                                          "during pull of stream 'student'; it had used"));
  EXPECT_THAT(pulled.message(), HasSubstr("MiB of its 128 MiB memory limit"));
}

TEST_F(ProcessConnectorTest, KillEndsAPullThatIgnoresStop) {
  std::unique_ptr<ProcessConnector> remote = Start("ignore_stop");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create("{}").ok());
  Captured captured(*remote);
  captured.stop_after = 0;  // asked to stop from the start; it never looks again
  std::future<void> first = captured.first_record.get_future();
  std::future<Status> pulled = std::async(
      std::launch::async, [&] { return remote->Pull("student", std::nullopt, captured); });
  first.wait();  // the plugin is in its endless loop now
  remote->Kill("the pull ignored cancellation");
  const Status status = pulled.get();
  EXPECT_EQ(status.message(),
            "ignore_stop: connector process killed by the hub (SIGTERM): the pull ignored "
            "cancellation during pull of stream 'student'");
}

TEST_F(ProcessConnectorTest, TheRunnerGetsNoDescriptorOfTheHubBeyondItsSocket) {
  // A descriptor this process opened without O_CLOEXEC, as a careless library might.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  std::unique_ptr<ProcessConnector> remote = Start("report_fds");
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Create(R"({"records": 1})").ok());
  Captured captured(*remote);
  ASSERT_TRUE(remote->Pull("student", std::nullopt, captured).ok());
  // stdin (/dev/null), stdout (= stderr), stderr, and the protocol socket twice (in, out).
  EXPECT_THAT(captured.warnings, ::testing::ElementsAre("fds:  0 1 2 3 4"));
  ::close(leaky);
}

TEST_F(ProcessConnectorTest, AMissingRunnerIsAClearError) {
  RunnerOptions options = Options();
  options.runner = "/nonexistent/reglo-connector-runner";
  auto started = ProcessConnector::Start(options, PluginPath("counter"));
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(),
              HasSubstr("connector runner /nonexistent/reglo-connector-runner cannot be started"));
}

TEST_F(ProcessConnectorTest, ProbeAcceptsAGoodPluginAndRefusesOnesThatCrashNamingTheFile) {
  auto good = ProbePlugin(Options(), PluginPath("counter"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->name, "counter");

  auto on_load = ProbePlugin(Options(), PluginPath("crash_on_load"));
  ASSERT_FALSE(on_load.ok());
  EXPECT_EQ(on_load.status().message(),
            "plugin " + PluginPath("crash_on_load").string() +
                " refused: connector process crashed: signal 11 (SIGSEGV) during load (probed in a "
                "connector process)");

  auto in_entry = ProbePlugin(Options(), PluginPath("crash_in_entry"));
  ASSERT_FALSE(in_entry.ok());
  EXPECT_THAT(in_entry.status().message(),
              HasSubstr("crash_in_entry.so refused: connector process crashed: signal 11 "
                        "(SIGSEGV) during load"));

  // A library the plugin host refuses is refused with the host's own reason.
  auto no_entry = ProbePlugin(Options(), PluginPath("no_entry"));
  ASSERT_FALSE(no_entry.ok());
  EXPECT_THAT(no_entry.status().message(),
              HasSubstr("no_entry.so refused: no entry symbol 'reglo_connector_entry'"));

  // Create is tried with the configurations given: a crash refuses, a clean error does not.
  auto configs = [](const plugin_host::PluginInfo&) {
    return std::vector<std::pair<std::string, std::string>>{{"source a", "{}"}};
  };
  auto aborts = ProbePlugin(Options(), PluginPath("abort_in_create"), configs);
  ASSERT_FALSE(aborts.ok());
  EXPECT_THAT(aborts.status().message(),
              HasSubstr("abort_in_create.so refused: connector process crashed: signal 6 "
                        "(SIGABRT) during create with the configuration of source a"));
  EXPECT_TRUE(ProbePlugin(Options(), PluginPath("create_fails"), configs).ok());
}

}  // namespace

namespace {

// A stand-in runner that sends `frames` (hello and plugin description first, as a runner does)
// whatever the hub asks, then waits: what a compromised runner could send.
class HostileRunner {
 public:
  explicit HostileRunner(const std::vector<std::pair<protocol::Type, std::string>>& frames) {
    const std::string frames_file = (dir_.path() / "frames").string();
    const int fd = ::open(frames_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    protocol::FrameWriter writer(fd);
    protocol::Encoder hello;
    hello.U32(protocol::kMagic)
        .U16(protocol::kVersionMajor)
        .U16(protocol::kVersionMinor)
        .U32(protocol::kMaxFrameBytes);
    EXPECT_TRUE(writer.Append(protocol::Type::kHello, hello.bytes()).ok());
    plugin_host::PluginInfo info;
    info.name = "hostile";
    info.version = "1";
    info.entities = {"student"};
    info.config_schema_json = "{}";
    protocol::Encoder loaded;
    loaded.Info(info);
    EXPECT_TRUE(writer.Append(protocol::Type::kLoaded, loaded.bytes()).ok());
    for (const auto& [type, body] : frames) EXPECT_TRUE(writer.Append(type, body).ok());
    EXPECT_TRUE(writer.Flush().ok());
    ::close(fd);
    options_.runner =
        dir_.Write("runner.sh", "#!/bin/sh\ncat '" + frames_file + "'\nexec cat >/dev/null\n");
    std::filesystem::permissions(options_.runner, std::filesystem::perms::owner_all);
  }
  std::unique_ptr<ProcessConnector> Start() {
    auto started = ProcessConnector::Start(options_, "/hostile.so");
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(*started) : nullptr;
  }

 private:
  testing::TempDir dir_;
  RunnerOptions options_ = Options();
};

std::string CanonicalBody(std::string_view value) {
  reglo_field field{"note", value.data(), value.size()};
  const reglo_record record = testing::AbiRecord("student", "S1", &field, 1);
  protocol::Encoder out;
  out.Record(record);
  return out.bytes();
}

}  // namespace

TEST_F(ProcessConnectorTest, AStreamListClaimingTwoBillionNamesEndsOnlyTheRunner) {
  protocol::Encoder streams;
  streams.U32(0x7fffffff);  // the 9-byte frame: no names follow
  HostileRunner hostile({{protocol::Type::kStreams, streams.bytes()}});
  std::unique_ptr<ProcessConnector> connector = hostile.Start();
  ASSERT_NE(connector, nullptr);
  Result<std::vector<std::string>> listed = connector->ListStreams();
  ASSERT_FALSE(listed.ok());
  EXPECT_THAT(listed.status().message(), HasSubstr("an undecodable stream list: a count of"));
  EXPECT_THAT(listed.status().message(), HasSubstr("it broke the protocol"));
}

TEST_F(ProcessConnectorTest, ARecordFrameClaimingTwoBillionFieldsFailsThePull) {
  HostileRunner hostile(
      {{protocol::Type::kRecord, std::string("\x00\x00\x00\x00\x00\xff\xff\xff\x7f", 9)}});
  std::unique_ptr<ProcessConnector> connector = hostile.Start();
  ASSERT_NE(connector, nullptr);
  Captured captured(*connector);
  const Status pulled = connector->Pull("student", std::nullopt, captured);
  EXPECT_FALSE(pulled.ok());
  EXPECT_THAT(pulled.message(), HasSubstr("(type 5): a count of 2147483647"));
  EXPECT_EQ(captured.records, 0u);
}

TEST_F(ProcessConnectorTest, ALogFrameWithAnUnknownLevelEndsTheRunner) {
  protocol::Encoder log;
  log.U8(200).Str("hello");
  HostileRunner hostile({{protocol::Type::kLog, log.bytes()}});
  std::unique_ptr<ProcessConnector> connector = hostile.Start();
  ASSERT_NE(connector, nullptr);
  Result<std::vector<std::string>> listed = connector->ListStreams();
  ASSERT_FALSE(listed.ok());
  EXPECT_THAT(listed.status().message(), HasSubstr("a log level of 200"));
}

TEST_F(ProcessConnectorTest, CanonicalRecordsHeldForOneRecordAreBoundedInCount) {
  std::vector<std::pair<protocol::Type, std::string>> frames(
      protocol::kMaxCanonicalPerRecord + 1, {protocol::Type::kCanonical, CanonicalBody("x")});
  HostileRunner hostile(frames);
  std::unique_ptr<ProcessConnector> connector = hostile.Start();
  ASSERT_NE(connector, nullptr);
  Captured captured(*connector);
  const Status pulled = connector->Pull("student", std::nullopt, captured);
  EXPECT_FALSE(pulled.ok());
  EXPECT_THAT(pulled.message(), HasSubstr("the canonical records of one source record are over"));
}

TEST_F(ProcessConnectorTest, CanonicalRecordsHeldForOneRecordAreBoundedInBytes) {
  // Two 33 MiB frames, each under the frame limit, together over what one record may hold (the
  // fuzzer's 200 frames of 32 MiB held 2.97 GB until a record came).
  const std::string big = CanonicalBody(std::string(33u << 20, 'x'));
  HostileRunner hostile({{protocol::Type::kCanonical, big}, {protocol::Type::kCanonical, big}});
  std::unique_ptr<ProcessConnector> connector = hostile.Start();
  ASSERT_NE(connector, nullptr);
  Captured captured(*connector);
  const Status pulled = connector->Pull("student", std::nullopt, captured);
  EXPECT_FALSE(pulled.ok());
  EXPECT_THAT(pulled.message(), HasSubstr("(1024 records, 64 MiB)"));
}

}  // namespace reglo::isolation
