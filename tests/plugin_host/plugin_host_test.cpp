// The plugin host against real libraries: a working C connector and one broken library per reason
// the host must refuse, each named in the error together with its file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "reglo/plugin_host/plugin.h"
#include "temp_dir.h"

namespace reglo::plugin_host {
namespace {

using ::testing::HasSubstr;

std::filesystem::path PluginPath(const std::string& name) {
  return std::filesystem::path(REGLO_TEST_PLUGIN_DIR) / (name + ".so");
}

using reglo::testing::TempDir;

struct Collected final : PullHandler {
  std::vector<std::string> ids;
  std::vector<std::string> cursors;
  Status OnRecord(const reglo_record& record) override {
    ids.emplace_back(record.external_id);
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view cursor, uint64_t) override {
    cursors.emplace_back(cursor);
    return Status::Ok();
  }
  void OnWarning(std::string_view, std::string_view) override {}
  bool ShouldStop() override { return false; }
};

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

INSTANTIATE_TEST_SUITE_P(BrokenPlugins, RefusalTest,
                         ::testing::Values(RefusalCase{"no_entry", StatusCode::kInvalidArgument,
                                                       "no entry symbol 'reglo_connector_entry'"},
                                           RefusalCase{
                                               "abi_v2", StatusCode::kIncompatible,
                                               "plugin speaks ABI 2.0, this hub speaks ABI 1.0"},
                                           RefusalCase{"incompatible", StatusCode::kIncompatible,
                                                       "cannot speak this hub's ABI 1.0"},
                                           RefusalCase{"null_name", StatusCode::kInvalidArgument,
                                                       "descriptor name is missing"},
                                           RefusalCase{"bad_schema", StatusCode::kInvalidArgument,
                                                       "config schema is not a JSON object"}),
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

  reglo_record record{};
  record.struct_size = sizeof record;
  record.entity = "student";
  record.external_id = "S1";
  Status mapped = (*instance)->MapToCanonical(
      record, [](const reglo_record&) -> Status { throw std::runtime_error("sink exploded"); });
  EXPECT_THAT(mapped.message(), HasSubstr("sink exploded"));
}

}  // namespace reglo::plugin_host
