// The admin API suites' fixture (admin_api_test.cpp, roles_api_test.cpp): a real admin listener
// on port 0, a real Engine running real sida_stub plugins on a ManualClock, a real store
// (admin_backends.h), and HTTP from a real client. Test-only; each test owns its fixture.
#pragma once

#include <Poco/Net/HTTPRequest.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin_backends.h"
#include "http_client.h"
#include "reglo/admin/admin.h"
#include "reglo/admin/token.h"
#include "reglo/engine/engine.h"
#include "temp_dir.h"

namespace reglo::admin {
namespace testing_fixture {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr milliseconds kWait{20'000};  // bound on waiting for plugin threads; never reached
constexpr const char* kToken = "test-admin-token-0123456789";

class MaxRandom final : public engine::RandomSource {
 public:
  uint64_t UpTo(uint64_t bound) override { return bound; }
};

using Reply = reglo::testing::HttpReply;

class AdminApiTest : public ::testing::TestWithParam<storage::testing::BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    dir_ = reglo::testing::MakeTempDir("reglo_admin_");
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ / "plugins");
    fs::copy_file(REGLO_SIDA_PLUGIN, dir_ / "plugins" / "sida_stub.so");
    options_.plugins_dir = dir_ / "plugins";
    options_.plugin_cache_dir = dir_ / "cache";
    options_.default_interval = seconds(60);
    options_.threads_per_plugin = 1;
    options_.watch_plugins = false;
    options_.backoff.failure_limit = 2;
  }
  void TearDown() override {
    server_.reset();
    if (engine_) engine_->Stop(kWait);
    engine_.reset();
    backend_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  engine::StoreFactory Factory() {
    storage::testing::StoreBackend* backend = backend_.get();
    return [backend] { return backend->Open(); };
  }

  engine::SourceConfig Source(const std::string& id, json options = json::object()) {
    options["system"] = id;
    if (!options.contains("changes")) options["changes"] = 40;
    engine::SourceConfig source;
    source.row.id = id;
    source.row.company_id = "autoscuola-" + id;
    source.row.source_system = "sida";
    source.row.connector = "sida_stub";
    source.row.config_json = options.dump();
    return source;
  }

  void Start(std::vector<engine::SourceConfig> sources, AdminOptions admin = {}) {
    std::set<std::string> config_ids;
    for (const auto& source : sources) config_ids.insert(source.row.id);
    engine_ =
        std::make_unique<engine::Engine>(options_, std::move(sources), Factory(), clock_, random_);
    ASSERT_TRUE(engine_->Start().ok());
    metrics_.Add(MakeHubMetrics(*engine_, Factory(), clock_));
    admin.port = 0;
    admin.token_hash = TokenHash(kToken);
    admin.config_source_ids = config_ids;
    Result<std::unique_ptr<http::Server>> server =
        StartAdminServer(admin, AdminDeps{*engine_, Factory(), clock_, metrics_});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  Reply Call(const std::string& method, const std::string& uri, const std::string& body = "",
             std::optional<std::string> token = std::string(kToken)) {
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    if (token) request.set("Authorization", "Bearer " + *token);
    if (!body.empty() || method == "POST" || method == "PUT") {
      request.setContentType("application/json");
    }
    return reglo::testing::SendHttp(server_->port(), request, body);
  }

  // Runs every due source and waits for `id` to have finished `runs` runs.
  void RunUntil(const std::string& id, int64_t runs) {
    engine_->Tick();
    ASSERT_TRUE(engine_->WaitForRuns(id, runs, kWait)) << id;
  }
  void RunNowAndWait(const std::string& id) {
    const int64_t before = engine_->Source(id)->runs_finished;
    ASSERT_EQ(Call("POST", "/api/admin/sources/" + id + "/run").status, 202);
    RunUntil(id, before + 1);
  }

  std::unique_ptr<storage::Store> OpenStore() {
    auto store = backend_->Open();
    EXPECT_TRUE(store.ok());
    return std::move(*store);
  }

  void ExpectProblem(const Reply& reply, int status, const std::string& detail_part = "") {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.content_type, "application/problem+json") << reply.body;
    const json problem = reply.Json();
    EXPECT_EQ(problem.value("status", 0), status);
    EXPECT_TRUE(problem.contains("title"));
    EXPECT_TRUE(problem.contains("type"));
    if (!detail_part.empty()) {
      EXPECT_THAT(problem.value("detail", ""), HasSubstr(detail_part));
    }
  }

  std::unique_ptr<storage::testing::StoreBackend> backend_;
  fs::path dir_;
  engine::EngineOptions options_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(490'000))};
  MaxRandom random_;
  MetricsRegistry metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace testing_fixture
}  // namespace reglo::admin
