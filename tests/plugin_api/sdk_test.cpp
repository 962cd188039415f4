// The C++ SDK: exceptions never cross the C boundary, statuses and messages reach the host.
#include <gtest/gtest.h>

#include <cstddef>
#include <reglo/connector.hpp>

#include "abi_record.h"

namespace {

class ThrowingConnector : public reglo::sdk::Connector {
 public:
  static constexpr const char* kName = "throwing";
  static constexpr const char* kVersion = "1.0.0";
  static constexpr const char* kVendor = "tests";
  static constexpr const char* kDescription = "throws from everywhere";
  static constexpr const char* kConfigSchema = "{}";
  static constexpr std::array<const char*, 1> kEntities = {"student"};

  static std::unique_ptr<ThrowingConnector> Create(const reglo::sdk::Context&,
                                                   std::string_view config) {
    if (config == "bad")
      throw reglo::sdk::Failure(reglo::sdk::Status::ConfigError("option x is wrong"));
    if (config == "boom") throw std::runtime_error("boom");
    return std::make_unique<ThrowingConnector>();
  }
  std::vector<std::string> Streams(const reglo::sdk::Context&) override { throw 42; }
  reglo::sdk::Status Pull(const reglo::sdk::Context&, std::string_view,
                          std::optional<std::string_view>, reglo::sdk::Emitter&) override {
    return reglo::sdk::Status::RateLimited("slow down", 1500);
  }
  reglo::sdk::Status Map(const reglo::sdk::Context&, const reglo::sdk::RecordView&,
                         reglo::sdk::CanonicalSink&) override {
    throw std::bad_alloc();
  }
};

struct Captured {
  std::string error;
  uint32_t retry_after = 0;
};

reglo_context MakeContext(Captured& captured) {
  reglo_context ctx{};
  ctx.struct_size = sizeof ctx;
  ctx.host_data = &captured;
  ctx.log = [](void*, reglo_log_level, const char*) {};
  ctx.set_error = [](void* data, const char* message) {
    static_cast<Captured*>(data)->error = message;
  };
  ctx.set_retry_after = [](void* data, uint32_t ms) {
    static_cast<Captured*>(data)->retry_after = ms;
  };
  return ctx;
}

using Adapter = reglo::sdk::detail::Adapter<ThrowingConnector>;

TEST(SdkTest, EntryRefusesAnotherMajorVersion) {
  reglo_host_info host{sizeof(reglo_host_info), 2, 0, "test"};
  const reglo_connector_descriptor* descriptor = nullptr;
  EXPECT_EQ(Adapter::Entry(&host, &descriptor), REGLO_INCOMPATIBLE);
  host.abi_major = REGLO_ABI_VERSION_MAJOR;
  ASSERT_EQ(Adapter::Entry(&host, &descriptor), REGLO_OK);
  EXPECT_STREQ(descriptor->name, "throwing");
  EXPECT_EQ(descriptor->struct_size, sizeof(reglo_connector_descriptor));
  EXPECT_EQ(descriptor->push_changes, nullptr);
}

TEST(SdkTest, ExceptionsBecomeStatusesWithMessages) {
  Captured captured;
  reglo_context ctx = MakeContext(captured);
  void* instance = nullptr;
  EXPECT_EQ(Adapter::Create(&ctx, "bad", &instance), REGLO_CONFIG_ERROR);
  EXPECT_EQ(captured.error, "option x is wrong");
  EXPECT_EQ(Adapter::Create(&ctx, "boom", &instance), REGLO_FATAL);
  EXPECT_EQ(captured.error, "unhandled exception: boom");
  ASSERT_EQ(Adapter::Create(&ctx, "{}", &instance), REGLO_OK);
  ASSERT_NE(instance, nullptr);

  reglo_stream_sink sink{sizeof(reglo_stream_sink), nullptr, [](void*, const char*) {}};
  EXPECT_EQ(Adapter::ListStreams(instance, &ctx, &sink), REGLO_FATAL);
  EXPECT_EQ(captured.error, "unhandled non-standard exception");

  reglo_emitter emitter{};
  emitter.struct_size = sizeof emitter;
  EXPECT_EQ(Adapter::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_RATE_LIMITED);
  EXPECT_EQ(captured.retry_after, 1500u);

  reglo_record record{};
  record.struct_size = sizeof record;
  reglo_record_sink record_sink{sizeof(reglo_record_sink), nullptr, nullptr};
  EXPECT_EQ(Adapter::Map(instance, &ctx, &record, &record_sink), REGLO_FATAL);
  EXPECT_EQ(captured.error, "out of memory");
  Adapter::Destroy(instance);
}

// A connector that emits three records whatever the host answers, then checkpoints; Map copies.
class CountingConnector : public ThrowingConnector {
 public:
  static std::unique_ptr<CountingConnector> Create(const reglo::sdk::Context&, std::string_view) {
    return std::make_unique<CountingConnector>();
  }
  std::vector<std::string> Streams(const reglo::sdk::Context&) override { return {"student"}; }
  reglo::sdk::Status Pull(const reglo::sdk::Context& ctx, std::string_view,
                          std::optional<std::string_view>, reglo::sdk::Emitter& emitter) override {
    ctx.Info("pulling");
    reglo::sdk::Status last = reglo::sdk::Status::Ok();
    for (int i = 0; i < 3; ++i) {
      reglo::sdk::Record record("student", "S" + std::to_string(i));
      reglo::sdk::Status emitted = emitter.Emit(record);
      if (!emitted.ok()) last = emitted;
    }
    reglo::sdk::Status checkpoint = emitter.Checkpoint("3");
    return last.ok() ? checkpoint : last;
  }
  reglo::sdk::Status Map(const reglo::sdk::Context&, const reglo::sdk::RecordView& source,
                         reglo::sdk::CanonicalSink& sink) override {
    reglo::sdk::Record copy(std::string(source.entity()), std::string(source.external_id()));
    return sink.Emit(copy);
  }
};
using Counting = reglo::sdk::detail::Adapter<CountingConnector>;

// What a host's emitter saw, and what it answers to each record.
struct Host {
  std::vector<reglo_status> answers;  // emit_record's answer to record i (OK past the end)
  size_t records = 0;
  uint64_t checkpoint_count = 0;
};

reglo_emitter MakeEmitter(Host& host) {
  reglo_emitter emitter{};
  emitter.struct_size = sizeof emitter;
  emitter.host_data = &host;
  emitter.emit_record = [](void* data, const reglo_record*) -> reglo_status {
    auto* h = static_cast<Host*>(data);
    const size_t i = h->records++;
    return i < h->answers.size() ? h->answers[i] : REGLO_OK;
  };
  emitter.emit_checkpoint = [](void* data, const char*, uint64_t count) -> reglo_status {
    static_cast<Host*>(data)->checkpoint_count = count;
    return REGLO_OK;
  };
  return emitter;
}

void* NewCounting(reglo_context& ctx) {
  void* instance = nullptr;
  EXPECT_EQ(Counting::Create(&ctx, "{}", &instance), REGLO_OK);
  return instance;
}

// A record the host refused is not one the next checkpoint covers (review §2.2.6).
TEST(SdkTest, ACheckpointCountsOnlyTheRecordsTheHostTook) {
  Captured captured;
  reglo_context ctx = MakeContext(captured);
  void* instance = NewCounting(ctx);
  Host host;
  host.answers = {REGLO_OK, REGLO_RETRY, REGLO_OK};
  reglo_emitter emitter = MakeEmitter(host);
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_RETRY);
  EXPECT_EQ(host.records, 3u);
  EXPECT_EQ(host.checkpoint_count, 2u);
  Counting::Destroy(instance);
}

// A status the SDK does not know (from a newer host) is a FATAL that names it, not passed on as
// if it were one of this ABI's.
TEST(SdkTest, AnUnknownStatusFromTheHostIsAFatalNamingIt) {
  Captured captured;
  reglo_context ctx = MakeContext(captured);
  void* instance = NewCounting(ctx);
  Host host;
  host.answers = {99};
  reglo_emitter emitter = MakeEmitter(host);
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_FATAL);
  EXPECT_EQ(captured.error, "the host refused the record with unknown status 99");
  Counting::Destroy(instance);
}

TEST(SdkTest, AMissingSinkOrEmitterIsAFailureNotACrash) {
  Captured captured;
  reglo_context ctx = MakeContext(captured);
  void* instance = NewCounting(ctx);
  EXPECT_EQ(Counting::ListStreams(instance, &ctx, nullptr), REGLO_FATAL);
  EXPECT_EQ(captured.error, "list_streams: the host passed no stream sink");
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, nullptr), REGLO_FATAL);
  EXPECT_EQ(captured.error, "pull_changes: the host passed no emitter");
  reglo_record record = reglo::testing::AbiRecord("student", "S1");
  reglo_record_sink no_emit{sizeof(reglo_record_sink), nullptr, nullptr};
  EXPECT_EQ(Counting::Map(instance, &ctx, &record, &no_emit), REGLO_FATAL);
  EXPECT_EQ(captured.error, "the host's canonical sink has no emit");
  record.operation = 7;
  EXPECT_EQ(Counting::Map(instance, &ctx, &record, &no_emit), REGLO_FATAL);
  EXPECT_EQ(captured.error, "map_to_canonical: a record with unknown operation 7");
  Counting::Destroy(instance);
}

// A host struct from an older minor ends before members this SDK knows: the SDK never reads
// them (REGLO_HAS_MEMBER), it treats them as absent.
TEST(SdkTest, MembersPastAHostStructsSizeAreNeverRead) {
  struct Calls {
    int log = 0;
    int set_error = 0;
  } calls;
  reglo_context ctx{};
  ctx.host_data = &calls;
  ctx.log = [](void* data, reglo_log_level, const char*) { ++static_cast<Calls*>(data)->log; };
  ctx.set_error = [](void* data, const char*) { ++static_cast<Calls*>(data)->set_error; };
  ctx.struct_size = offsetof(reglo_context, set_error);  // ends before set_error
  void* instance = NewCounting(ctx);
  Host host;
  host.answers = {REGLO_RETRY};
  reglo_emitter emitter = MakeEmitter(host);
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_RETRY);
  EXPECT_EQ(calls.log, 1);
  EXPECT_EQ(calls.set_error, 0);
  ctx.struct_size = offsetof(reglo_context, log);  // ends before log
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_OK);
  EXPECT_EQ(calls.log, 1);
  emitter.struct_size = offsetof(reglo_emitter, emit_checkpoint);  // no checkpoint member
  EXPECT_EQ(Counting::Pull(instance, &ctx, "student", nullptr, &emitter), REGLO_FATAL);
  Counting::Destroy(instance);
}

struct NeedsNewerHost : CountingConnector {
  static constexpr uint16_t kMinHostMinor = REGLO_ABI_VERSION_MINOR + 1;
  static std::unique_ptr<NeedsNewerHost> Create(const reglo::sdk::Context&, std::string_view) {
    return std::make_unique<NeedsNewerHost>();
  }
};

// Minor negotiation: the SDK refuses a host below the minor the connector needs (by default the
// one it was compiled against), handing its descriptor over so the host can name its version.
TEST(SdkTest, EntryRefusesAHostBelowTheMinorTheConnectorNeeds) {
  reglo_host_info host{sizeof(reglo_host_info), REGLO_ABI_VERSION_MAJOR, REGLO_ABI_VERSION_MINOR,
                       "test"};
  const reglo_connector_descriptor* descriptor = nullptr;
  EXPECT_EQ(Adapter::Entry(&host, &descriptor), REGLO_OK);
  EXPECT_EQ(reglo::sdk::detail::Adapter<NeedsNewerHost>::Entry(&host, &descriptor),
            REGLO_INCOMPATIBLE);
  ASSERT_NE(descriptor, nullptr);
  EXPECT_EQ(descriptor->abi_minor, REGLO_ABI_VERSION_MINOR);
  host.abi_minor = REGLO_ABI_VERSION_MINOR + 1;
  EXPECT_EQ(reglo::sdk::detail::Adapter<NeedsNewerHost>::Entry(&host, &descriptor), REGLO_OK);
  // A host_info too small to hold its minor is refused, not read past.
  host.struct_size = offsetof(reglo_host_info, abi_minor);
  EXPECT_EQ(Adapter::Entry(&host, &descriptor), REGLO_INCOMPATIBLE);
}

}  // namespace
