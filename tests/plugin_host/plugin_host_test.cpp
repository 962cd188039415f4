// The plugin host against real libraries: a working C connector and one broken library per reason
// the host must refuse, each named in the error together with its file.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "abi_record.h"
#include "pull_collector.h"
#include "reglo/plugin_host/plugin.h"
#include "temp_dir.h"

namespace reglo::plugin_host {
namespace {

using ::testing::HasSubstr;

std::filesystem::path PluginPath(const std::string& name) {
  return std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / (name + ".so");
}

using reglo::testing::TempDir;

using Collected = reglo::testing::PullCollector;

TEST(PluginHostTest, LoadsAWorkingCConnector) {
  Result<std::shared_ptr<LoadedPlugin>> plugin = LoadedPlugin::Load(PluginPath("counter"));
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  EXPECT_EQ((*plugin)->info().name, "counter");
  EXPECT_EQ((*plugin)->info().abi_major, 1);
  EXPECT_THAT((*plugin)->info().entities, ::testing::ElementsAre("student"));

  auto instance = (*plugin)->CreateInstance(R"({"records": 5, "checkpoint_every": 2})");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_TRUE((*instance)->Authenticate().ok());
  EXPECT_TRUE((*instance)->HealthCheck().ok());
  auto streams = (*instance)->ListStreams();
  ASSERT_TRUE(streams.ok());
  EXPECT_THAT(*streams, ::testing::ElementsAre("student"));

  Collected collected;
  ASSERT_TRUE((*instance)->Pull("student", std::nullopt, collected).ok());
  EXPECT_EQ(collected.ids.size(), 5u);
  EXPECT_THAT(collected.cursors, ::testing::ElementsAre("2", "4", "5"));

  Collected resumed;
  ASSERT_TRUE((*instance)->Pull("student", std::string("4"), resumed).ok());
  EXPECT_THAT(resumed.ids, ::testing::ElementsAre("S000004"));
}

TEST(PluginHostTest, InstancesKeepTheLibraryAliveAndAreIndependent) {
  std::unique_ptr<ConnectorInstance> a;
  std::unique_ptr<ConnectorInstance> b;
  {
    auto plugin = LoadedPlugin::Load(PluginPath("counter"));
    ASSERT_TRUE(plugin.ok());
    a = std::move(*(*plugin)->CreateInstance(R"({"records": 1})"));
    b = std::move(*(*plugin)->CreateInstance(R"({"records": 3})"));
  }  // the LoadedPlugin handle is gone; the instances still hold the library
  Collected from_a;
  Collected from_b;
  ASSERT_TRUE(a->Pull("student", std::nullopt, from_a).ok());
  ASSERT_TRUE(b->Pull("student", std::nullopt, from_b).ok());
  EXPECT_EQ(from_a.ids.size(), 1u);
  EXPECT_EQ(from_b.ids.size(), 3u);
}

struct RefusalCase {
  std::string plugin;
  StatusCode code;
  std::string reason;
};

class RefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(RefusalTest, IsRefusedWithFileAndReason) {
  const RefusalCase& c = GetParam();
  Result<std::shared_ptr<LoadedPlugin>> plugin = LoadedPlugin::Load(PluginPath(c.plugin));
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), c.code) << plugin.status().ToString();
  EXPECT_THAT(plugin.status().message(), HasSubstr(PluginPath(c.plugin).string()));
  EXPECT_THAT(plugin.status().message(), HasSubstr(c.reason));
}

INSTANTIATE_TEST_SUITE_P(
    BrokenPlugins, RefusalTest,
    ::testing::Values(
        RefusalCase{"no_entry", StatusCode::kInvalidArgument,
                    "no entry symbol 'reglo_connector_entry'"},
        RefusalCase{"abi_v2", StatusCode::kIncompatible,
                    "plugin speaks ABI 2.0, this hub speaks ABI 1.0"},
        RefusalCase{"incompatible", StatusCode::kIncompatible, "cannot speak this hub's ABI 1.0"},
        RefusalCase{"null_name", StatusCode::kInvalidArgument, "descriptor name is missing"},
        RefusalCase{"bad_schema", StatusCode::kInvalidArgument,
                    "config schema is not a JSON object"},
        // Refused by the plugin, which hands its descriptor
        // over so both versions are named.
        RefusalCase{"abi_newer_minor", StatusCode::kIncompatible,
                    "the plugin cannot speak this hub's ABI "
                    "1.0 (it was built against ABI 1.1)"},
        // 8 bytes before an unreadable page: read past them,
        // and this test crashes.
        RefusalCase{"descriptor_header_only", StatusCode::kInvalidArgument,
                    "descriptor struct_size 8 is smaller than "
                    "ABI 1.0's"}),
    [](const auto& info) { return info.param.plugin; });

TEST(PluginHostTest, CreateFailureNamesTheFileAndThePluginsReason) {
  auto plugin = LoadedPlugin::Load(PluginPath("create_fails"));
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  auto instance = (*plugin)->CreateInstance("{}");
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), StatusCode::kConfigError);
  EXPECT_THAT(instance.status().message(), HasSubstr(PluginPath("create_fails").string()));
  EXPECT_THAT(instance.status().message(), HasSubstr("option 'records' must be positive"));
}

TEST(PluginHostTest, NotALibraryIsRefused) {
  TempDir dir;
  const auto path = dir.path() / "garbage.so";
  std::ofstream(path) << "this is not an ELF file";
  auto plugin = LoadedPlugin::Load(path);
  ASSERT_FALSE(plugin.ok());
  EXPECT_THAT(plugin.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(plugin.status().message(), HasSubstr("cannot load the library"));
}

TEST(PluginHostTest, DirectoryLoadCarriesOnPastBrokenLibraries) {
  TempDir dir;
  for (const char* name :
       {"abi_v2", "bad_schema", "counter", "incompatible", "no_entry", "null_name"}) {
    std::filesystem::copy_file(PluginPath(name), dir.path() / (std::string(name) + ".so"));
  }
  std::ofstream(dir.path() / "README.txt") << "not a plugin, ignored";
  PluginSet set = LoadPluginDirectory(dir.path());
  ASSERT_EQ(set.plugins.size(), 1u);
  EXPECT_TRUE(set.plugins.count("counter"));
  ASSERT_EQ(set.errors.size(), 5u);
  for (const PluginLoadError& error : set.errors) {
    EXPECT_THAT(error.reason, HasSubstr(error.path.string()));
  }
}

TEST(PluginHostTest, DuplicateNamesAreRefused) {
  TempDir dir;
  std::filesystem::copy_file(PluginPath("counter"), dir.path() / "a.so");
  std::filesystem::copy_file(PluginPath("counter"), dir.path() / "b.so");
  PluginSet set = LoadPluginDirectory(dir.path());
  EXPECT_EQ(set.plugins.size(), 1u);
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_THAT(set.errors[0].reason, HasSubstr("already provided by"));
}

TEST(PluginHostTest, MissingFolderIsAnErrorNotACrash) {
  PluginSet set = LoadPluginDirectory("/nonexistent/reglo/plugins");
  EXPECT_TRUE(set.plugins.empty());
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_THAT(set.errors[0].reason, HasSubstr("cannot read the plugins folder"));
}

}  // namespace
}  // namespace reglo::plugin_host

namespace reglo::plugin_host {
namespace {

TEST(PluginHostTest, RecordWithTooSmallStructSizeStopsThePull) {
  auto plugin = LoadedPlugin::Load(PluginPath("record_struct_size"));
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  auto instance = (*plugin)->CreateInstance(R"({"records": 3})");
  ASSERT_TRUE(instance.ok());
  Collected collected;
  Status pulled = (*instance)->Pull("student", std::nullopt, collected);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_THAT(pulled.message(), HasSubstr("invalid struct_size"));
  EXPECT_TRUE(collected.ids.empty());  // never handed to the pipeline
}

}  // namespace
// No exception crosses into the plugin's C frames (review §2.2.1): a host callback that throws
// (no memory, say) becomes the call's failure; before, it unwound through C code (terminate).
struct Throwing final : PullHandler {
  bool throw_on_record = true;
  Status OnRecord(const reglo_record&) override {
    if (throw_on_record) throw std::bad_alloc();
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view, uint64_t) override {
    throw std::runtime_error("checkpoint exploded");
  }
  void OnWarning(std::string_view, std::string_view) override {}
  bool ShouldStop() override { return false; }
};

TEST(PluginHostTest, AnExceptionInAHostCallbackIsThePullsFailureNotAnUnwindThroughThePlugin) {
  auto plugin = LoadedPlugin::Load(PluginPath("counter"));
  ASSERT_TRUE(plugin.ok());
  auto instance = (*plugin)->CreateInstance(
      R"({"records": 3, "checkpoint_every": 1})",
      [](reglo_log_level, std::string_view) { throw std::runtime_error("log exploded"); });
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Throwing throwing;
  Status pulled = (*instance)->Pull("student", std::nullopt, throwing);
  EXPECT_FALSE(pulled.ok());
  EXPECT_THAT(pulled.message(), HasSubstr("the host failed while serving the plugin"));
  EXPECT_THAT(pulled.message(), HasSubstr("bad_alloc"));
  throwing.throw_on_record = false;
  pulled = (*instance)->Pull("student", std::nullopt, throwing);
  EXPECT_THAT(pulled.message(), HasSubstr("checkpoint exploded"));

  const reglo_record record = reglo::testing::AbiRecord("student", "S1");
  Status mapped = (*instance)->MapToCanonical(
      record, [](const reglo_record&) -> Status { throw std::runtime_error("sink exploded"); });
  EXPECT_THAT(mapped.message(), HasSubstr("sink exploded"));
}

}  // namespace reglo::plugin_host

namespace reglo::plugin_host {
namespace {

Result<std::unique_ptr<ConnectorInstance>> Instance(const std::string& plugin,
                                                    const std::string& config,
                                                    PluginLogCallback log = {}) {
  Result<std::shared_ptr<LoadedPlugin>> loaded = LoadedPlugin::Load(PluginPath(plugin));
  if (!loaded.ok()) return loaded.status();
  return (*loaded)->CreateInstance(config, std::move(log));
}

// The host's log callback is C++ behind a C callback: one that throws inside the plugin's pull
// ends the pull with its reason (it was swallowed before, and the pull carried on).
TEST(PluginHostTest, ALogCallbackThatThrowsEndsThePullWithTheReason) {
  auto instance =
      Instance("counter", R"({"records": 3, "log_each_record": 1})",
               [](reglo_log_level, std::string_view) { throw std::runtime_error("log exploded"); });
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Collected collected;
  Status pulled = (*instance)->Pull("student", std::nullopt, collected);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_EQ(pulled.message(), "the host failed while serving the plugin: log exploded");
  EXPECT_TRUE(collected.ids.empty());  // the record after the failed log line was refused
}

// Status codes cross as int32: one no ABI 1.x defines (a newer plugin's) fails the call, named.
TEST(PluginHostTest, AnUnknownStatusFailsTheCallNamingTheCode) {
  auto instance = Instance("unknown_codes", R"({"unknown_status": 42})");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Collected collected;
  Status pulled = (*instance)->Pull("student", std::nullopt, collected);
  EXPECT_EQ(pulled.code(), StatusCode::kInternal);
  EXPECT_THAT(pulled.message(), HasSubstr("a status from the future"));
  EXPECT_THAT(pulled.message(), HasSubstr("the plugin answered unknown status code 42"));
}

TEST(PluginHostTest, AnUnknownLogLevelIsLoggedAsInfoKeepingTheCode) {
  std::vector<std::pair<reglo_log_level, std::string>> lines;
  auto instance = Instance(
      "unknown_codes", R"({"records": 1, "unknown_level": 9})",
      [&](reglo_log_level level, std::string_view message) { lines.emplace_back(level, message); });
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Collected collected;
  ASSERT_TRUE((*instance)->Pull("student", std::nullopt, collected).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, REGLO_LOG_INFO);
  EXPECT_EQ(lines[0].second, "(unknown log level 9) a line from the future");
}

// An operation the hub does not know is refused, never taken as an upsert (nor truncated to one).
TEST(PluginHostTest, ARecordWithAnUnknownOperationIsRefusedWithTheReason) {
  for (int operation : {7, 256, -1}) {
    auto instance =
        Instance("unknown_codes", fmt::format(R"({{"unknown_operation": {}}})", operation));
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    Collected collected;
    Status pulled = (*instance)->Pull("student", std::nullopt, collected);
    EXPECT_EQ(pulled.code(), StatusCode::kInternal);
    EXPECT_THAT(pulled.message(),
                HasSubstr(fmt::format("record ('S000000') with unknown operation {}", operation)));
    EXPECT_TRUE(collected.ids.empty());
  }
}

// A plugin built against a newer minor that declares it copes with an older host (and has a
// larger descriptor) is loaded: the host reads only the members it knows.
TEST(PluginHostTest, APluginOfANewerMinorThatAcceptsThisHubRuns) {
  auto plugin = LoadedPlugin::Load(PluginPath("abi_newer_minor_tolerant"));
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  EXPECT_EQ((*plugin)->info().abi_minor, REGLO_ABI_VERSION_MINOR + 1);
  EXPECT_GT((*plugin)->descriptor().struct_size, sizeof(reglo_connector_descriptor));
  auto instance = (*plugin)->CreateInstance(R"({"records": 2})");
  ASSERT_TRUE(instance.ok());
  Collected collected;
  ASSERT_TRUE((*instance)->Pull("student", std::nullopt, collected).ok());
  EXPECT_EQ(collected.ids.size(), 2u);
}

// The re-entrancy connector.h states: a handler that maps each record as it arrives (as the
// pipeline's batch builder does) calls map_to_canonical inside emit_record, with pull_changes of
// the same instance on the stack. The plugin counted it.
struct MappingAsItArrives final : PullHandler {
  explicit MappingAsItArrives(ConnectorInstance& c) : connector(c) {}
  ConnectorInstance& connector;
  std::vector<std::string> warnings;
  Status OnRecord(const reglo_record& record) override {
    return connector.MapToCanonical(record, [](const reglo_record&) { return Status::Ok(); });
  }
  Status OnCheckpoint(std::string_view, uint64_t) override { return Status::Ok(); }
  void OnWarning(std::string_view origin, std::string_view message) override {
    warnings.push_back(std::string(origin) + ": " + std::string(message));
  }
  bool ShouldStop() override { return false; }
};

TEST(PluginHostTest, MapToCanonicalIsCalledFromInsideEmitRecordDuringThePull) {
  auto instance = Instance("reentrancy", R"({"records": 3})");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  MappingAsItArrives handler(**instance);
  ASSERT_TRUE((*instance)->Pull("student", std::nullopt, handler).ok());
  EXPECT_THAT(
      handler.warnings,
      ::testing::ElementsAre("reentrancy: map_to_canonical ran 3 times inside pull_changes"));
}

}  // namespace
}  // namespace reglo::plugin_host
