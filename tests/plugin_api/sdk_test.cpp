// The C++ SDK: exceptions never cross the C boundary, statuses and messages reach the host.
#include <gtest/gtest.h>

#include <reglo/connector.hpp>

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

}  // namespace
