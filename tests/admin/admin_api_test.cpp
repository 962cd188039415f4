// The admin API end to end: a real admin listener on port 0, a real Engine running real sida_stub
// plugins on a ManualClock (time only moves when a test advances it), a real store (SQLite or
// PostgreSQL, admin_backends.h), and HTTP from a real client.
#include <Poco/Net/HTTPRequest.h>
#include <gmock/gmock.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include "admin_api_fixture.h"
#include "admin_backends.h"
#include "http_client.h"
#include "poll.h"
#include "reglo/admin/admin.h"
#include "reglo/admin/token.h"
#include "reglo/engine/engine.h"
#include "reglo/model/schema.h"
#include "reglo/model/schema_doc.h"
#include "reglo/model/validation.h"
#include "temp_dir.h"

namespace reglo::admin {
namespace {

using namespace testing_fixture;  // NOLINT: the suite's own fixture

// ---- auth ------------------------------------------------------------------------------------

TEST_P(AdminApiTest, EveryRouteButHealthzAndTheConsoleNeedsTheToken) {
  Start({Source("a")});
  std::vector<RouteInfo> routes;
  (void)BuildAdminRouter({}, AdminDeps{*engine_, Factory(), clock_, metrics_}, &routes);
  ASSERT_GE(routes.size(), 30u);
  // The relay's and the agents' routes are in the table (so they are checked here too).
  const auto has = [&](const std::string& method, const std::string& pattern) {
    return std::any_of(routes.begin(), routes.end(), [&](const RouteInfo& route) {
      return route.method == method && route.pattern == pattern && route.needs_token;
    });
  };
  EXPECT_TRUE(has("GET", "/api/admin/subscriptions"));
  EXPECT_TRUE(has("POST", "/api/admin/subscriptions"));
  EXPECT_TRUE(has("DELETE", "/api/admin/subscriptions/{id}"));
  EXPECT_TRUE(has("POST", "/api/admin/subscriptions/{id}/enable"));
  EXPECT_TRUE(has("POST", "/api/admin/subscriptions/{id}/disable"));
  EXPECT_TRUE(has("GET", "/api/admin/subscriptions/{id}/deliveries"));
  EXPECT_TRUE(has("POST", "/api/admin/subscriptions/{id}/deliveries/{sequence}/redeliver"));
  EXPECT_TRUE(has("POST", "/api/admin/subscriptions/{id}/redeliver-dead"));
  EXPECT_TRUE(has("GET", "/api/admin/agents"));
  for (const RouteInfo& route : routes) {
    std::string uri = route.pattern;
    for (const auto& [param, value] :
         std::vector<std::pair<std::string, std::string>>{{"{id}", "a"},
                                                          {"{runId}", "1"},
                                                          {"{entity}", "student"},
                                                          {"{*file}", "app.js"},
                                                          {"{sequence}", "1"}}) {
      if (size_t at = uri.find(param); at != std::string::npos)
        uri.replace(at, param.size(), value);
    }
    const std::string body = route.method == "POST" || route.method == "PUT" ? "{}" : "";
    for (const std::optional<std::string>& token :
         {std::optional<std::string>(), std::optional<std::string>("wrong-token"),
          std::optional<std::string>("")}) {
      Reply reply = Call(route.method, uri, body, token);
      if (route.needs_token) {
        ExpectProblem(reply, 401);
        // Nothing else: no data, no hint of what exists.
        EXPECT_THAT(reply.body, Not(HasSubstr("sida")));
        EXPECT_THAT(reply.body, Not(HasSubstr("autoscuola")));
      } else {
        EXPECT_NE(reply.status, 401) << route.method << " " << uri;
      }
    }
  }
  // Unknown paths and wrong methods are refused the same way without a token.
  ExpectProblem(Call("GET", "/api/admin/nothing", "", std::nullopt), 401);
  ExpectProblem(Call("PATCH", "/api/admin/sources", "", std::nullopt), 401);
  // A token in another scheme is not accepted either.
  Poco::Net::HTTPRequest request("GET", "/api/admin/sources", Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", std::string("Basic ") + kToken);
  EXPECT_EQ(reglo::testing::SendHttp(server_->port(), request).status, 401);
}

TEST_P(AdminApiTest, HealthzAndReadyzAnswerWithoutTokenAndReadyzDetailNeedsIt) {
  Start({Source("a")});
  Reply health = Call("GET", "/healthz", "", std::nullopt);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.Json(), json({{"status", "ok"}}));
  Reply ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.Json(), json({{"status", "ready"}, {"store", "ok"}, {"plugins", "ok"}}));
  // A load balancer's probe (no token, or a wrong one) gets the verdict without the detail.
  for (const std::optional<std::string>& token :
       {std::optional<std::string>(), std::optional<std::string>("wrong-token")}) {
    Reply probe = Call("GET", "/readyz", "", token);
    EXPECT_EQ(probe.status, 200);
    EXPECT_EQ(probe.Json(), json({{"status", "ready"}}));
  }
}

TEST_P(AdminApiTest, ReadyzIs503WhenASourcesConnectorIsMissing) {
  engine::SourceConfig orphan = Source("orphan");
  orphan.row.connector = "drivelab";
  Start({Source("a"), orphan});
  Reply ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.Json()["status"], "not ready");
  EXPECT_EQ(ready.Json()["store"], "ok");
  EXPECT_THAT(ready.Json()["plugins"].get<std::string>(), HasSubstr("drivelab"));
  Reply probe = Call("GET", "/readyz", "", std::nullopt);
  EXPECT_EQ(probe.status, 503);
  EXPECT_EQ(probe.Json(), json({{"status", "not ready"}}));
  EXPECT_THAT(probe.body, Not(HasSubstr("drivelab")));
}

// A source held on purpose (disabled, or paused by an operator: HoldCause::kManual, not words in
// its reason) does not make the hub unready, even when its connector is missing.
TEST_P(AdminApiTest, ReadyzIgnoresSourcesHeldOnPurpose) {
  engine::SourceConfig off = Source("off");
  off.row.connector = "drivelab";
  off.row.enabled = false;
  Start({Source("a"), off});
  EXPECT_EQ(engine_->Source("off")->cause, engine::HoldCause::kManual);
  EXPECT_EQ(engine_->Source("off")->state, engine::SourceState::kPaused);
  Reply ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
}

// A source whose connector is not loaded is Failed with the reason and offers no command: a
// retry or a resume cannot help (issue #16). A healthy one offers run and pause, a paused one
// resume.
TEST_P(AdminApiTest, ASourceWithAnUnloadedConnectorIsFailedWithTheReasonAndNoActions) {
  engine::SourceConfig typo = Source("typo");
  typo.row.connector = "sida_stubb";
  Start({Source("a"), typo});
  const json source = Call("GET", "/api/admin/sources/typo").Json();
  EXPECT_EQ(source["status"], "failed");
  EXPECT_EQ(source["state"], "failed");
  EXPECT_THAT(source["reason"].get<std::string>(),
              HasSubstr("no plugin named 'sida_stubb' is loaded; loaded: sida_stub"));
  EXPECT_EQ(source["actions"], json::array());
  ExpectProblem(Call("POST", "/api/admin/sources/typo/retry"), 409, "sida_stubb");
  ExpectProblem(Call("POST", "/api/admin/sources/typo/resume"), 409, "has failed");
  EXPECT_EQ(Call("GET", "/api/admin/sources/a").Json()["actions"], json({"run", "pause"}));
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/pause").status, 200);
  EXPECT_EQ(Call("GET", "/api/admin/sources/a").Json()["actions"], json({"resume"}));
}

TEST_P(AdminApiTest, ATokenResetInTheStoreTakesEffectAtOnce) {
  AdminOptions admin;
  admin.token_in_store = true;
  Start({Source("a")}, admin);
  EXPECT_EQ(Call("GET", "/api/admin/sources").status, 200);  // nothing stored: the given hash
  Result<std::string> fresh = ResetAdminToken(*OpenStore(), clock_);
  ASSERT_TRUE(fresh.ok());
  ExpectProblem(Call("GET", "/api/admin/sources"), 401);
  EXPECT_EQ(Call("GET", "/api/admin/sources", "", *fresh).status, 200);
}

// ---- sources -----------------------------------------------------------------------------------

TEST_P(AdminApiTest, SourcesShowStatusLastSyncNextRunAndLastRunWithSecretsMasked) {
  Start({Source("a", {{"api_key", "k-123"}, {"password", "hunter2"}})});
  json before = Call("GET", "/api/admin/sources").Json();
  ASSERT_EQ(before["items"].size(), 1u);
  EXPECT_EQ(before["items"][0]["status"], "new");
  EXPECT_TRUE(before["items"][0]["lastRun"].is_null());
  EXPECT_TRUE(before["items"][0]["lastSyncAt"].is_null());

  RunUntil("a", 1);
  Reply reply = Call("GET", "/api/admin/sources/a");
  ASSERT_EQ(reply.status, 200);
  const json source = reply.Json();
  EXPECT_EQ(source["id"], "a");
  EXPECT_EQ(source["connector"], "sida_stub");
  EXPECT_EQ(source["companyId"], "autoscuola-a");
  EXPECT_EQ(source["sourceSystem"], "sida");
  EXPECT_EQ(source["status"], "ok");
  EXPECT_EQ(source["state"], "idle");
  EXPECT_EQ(source["origin"], "config");
  EXPECT_EQ(source["consecutiveFailures"], 0);
  EXPECT_EQ(source["intervalSeconds"], 60.0);
  // The clock has not moved: the next pull is at the source's phase slot, at least an interval
  // after the first (README "Phases").
  const double next_run_in = source["nextRunInSeconds"].get<double>();
  EXPECT_GE(next_run_in, 60.0);
  EXPECT_LT(next_run_in, 120.0);
  EXPECT_EQ(source["lastSyncAt"], source["lastRun"]["finishedAt"]);
  EXPECT_EQ(source["lastRun"]["status"], "ok");
  EXPECT_EQ(source["lastRun"]["pluginVersion"], "1.0.0");
  EXPECT_GT(source["lastRun"]["counts"]["created"].get<int64_t>(), 0);
  EXPECT_EQ(source["options"]["api_key"], "********");
  EXPECT_EQ(source["options"]["password"], "********");
  EXPECT_THAT(reply.body, Not(HasSubstr("hunter2")));
  EXPECT_THAT(reply.body, Not(HasSubstr("k-123")));
  clock_.Advance(seconds(15));
  EXPECT_DOUBLE_EQ(Call("GET", "/api/admin/sources/a").Json()["nextRunInSeconds"].get<double>(),
                   next_run_in - 15.0);
}

TEST_P(AdminApiTest, CreateUpdatePauseResumeRunAndDeleteThroughTheApi) {
  Start({Source("a")});
  const json body = {{"id", "b"},
                     {"connector", "sida_stub"},
                     {"companyId", "autoscuola-b"},
                     {"sourceSystem", "sida"},
                     {"intervalSeconds", 30},
                     {"options", {{"system", "b"}, {"changes", 20}, {"token", "s3cr3t-t0k3n"}}}};
  Reply created = Call("POST", "/api/admin/sources", body.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["origin"], "api");
  EXPECT_EQ(created.Json()["status"], "new");
  EXPECT_EQ(created.Json()["intervalSeconds"], 30.0);
  EXPECT_EQ(created.Json()["options"]["token"], "********");
  // Persisted for the next start.
  auto stored = OpenStore()->ListApiSources();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().interval_ms, 30'000);
  EXPECT_THAT(stored->front().source.config_json, HasSubstr("s3cr3t-t0k3n"));

  ExpectProblem(Call("POST", "/api/admin/sources", body.dump()), 409, "already exists");
  ExpectProblem(
      Call("POST", "/api/admin/sources",
           json{{"id", "a"}, {"connector", "sida_stub"}, {"companyId", "x"}, {"sourceSystem", "y"}}
               .dump()),
      409);

  RunUntil("b", 1);
  EXPECT_EQ(Call("GET", "/api/admin/sources/b").Json()["status"], "ok");

  // PUT sends the masked secret back: the stored value stays; the interval changes.
  json update = created.Json();
  update["intervalSeconds"] = 120;
  Reply updated = Call("PUT", "/api/admin/sources/b", update.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json()["intervalSeconds"], 120.0);
  EXPECT_EQ(engine_->SourceDefinition("b")->interval, seconds(120));
  EXPECT_THAT(engine_->SourceDefinition("b")->row.config_json, HasSubstr("s3cr3t-t0k3n"));
  stored = OpenStore()->ListApiSources();
  EXPECT_EQ(stored->front().interval_ms, 120'000);

  Reply paused = Call("POST", "/api/admin/sources/b/pause");
  ASSERT_EQ(paused.status, 200);
  EXPECT_EQ(paused.Json()["status"], "paused");
  EXPECT_EQ(paused.Json()["state"], "paused");
  ExpectProblem(Call("POST", "/api/admin/sources/b/run"), 409);  // resume it first
  Reply resumed = Call("POST", "/api/admin/sources/b/resume");
  ASSERT_EQ(resumed.status, 200);
  EXPECT_EQ(resumed.Json()["state"], "idle");
  RunUntil("b", 2);  // due at once after a resume
  RunNowAndWait("b");
  EXPECT_EQ(engine_->Source("b")->runs_finished, 3);

  ASSERT_EQ(Call("DELETE", "/api/admin/sources/b").status, 204);
  ExpectProblem(Call("GET", "/api/admin/sources/b"), 404);
  EXPECT_TRUE(OpenStore()->ListApiSources()->empty());
  EXPECT_EQ(Call("GET", "/api/admin/sources").Json()["items"].size(), 1u);
  ExpectProblem(Call("DELETE", "/api/admin/sources/b"), 404);
}

TEST_P(AdminApiTest, AFailedSourceIsFixedAndRetriedThroughTheApi) {
  Start({});
  json created = {
      {"id", "s"},
      {"connector", "sida_stub"},
      {"companyId", "autoscuola-s"},
      {"sourceSystem", "sida"},
      {"options", {{"system", "s"}, {"changes", 40}, {"faults", {{"auth_error", true}}}}}};
  ASSERT_EQ(Call("POST", "/api/admin/sources", created.dump()).status, 201);
  RunUntil("s", 1);
  json failed = Call("GET", "/api/admin/sources/s").Json();
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["lastRun"]["status"], "failed");
  EXPECT_EQ(failed["lastRun"]["errorCategory"],
            std::string(StatusCodeName(StatusCode::kAuthError)));
  EXPECT_TRUE(failed["nextRunInSeconds"].is_null());

  json fixed = failed;
  fixed["options"].erase("faults");
  ASSERT_EQ(Call("PUT", "/api/admin/sources/s", fixed.dump()).status, 200);
  Reply retry = Call("POST", "/api/admin/sources/s/retry");
  ASSERT_EQ(retry.status, 202);
  EXPECT_EQ(retry.Json(), json({{"accepted", true}}));
  RunUntil("s", 2);
  json ok = Call("GET", "/api/admin/sources/s").Json();
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(ok["lastRun"]["status"], "ok");
  EXPECT_EQ(ok["consecutiveFailures"], 0);
}

// Issue #16: an edit of a config-file source would be undone silently at the next start, so the
// API refuses it, naming the file; nothing changes.
TEST_P(AdminApiTest, SourcesOfTheConfigFileAreReadOnlyNamingTheFile) {
  AdminOptions admin;
  admin.config_file = dir_ / "hub.json";
  Start({Source("a")}, admin);
  json source = Call("GET", "/api/admin/sources/a").Json();
  EXPECT_EQ(source["origin"], "config");
  source["intervalSeconds"] = 120;
  const std::string file = (dir_ / "hub.json").string();
  ExpectProblem(Call("PUT", "/api/admin/sources/a", source.dump()), 409,
                "source 'a' is defined in " + file + ": edit it there, then restart serve");
  ExpectProblem(Call("DELETE", "/api/admin/sources/a"), 409, "remove it there");
  EXPECT_EQ(engine_->SourceDefinition("a")->interval, seconds(60));
  EXPECT_TRUE(engine_->Source("a").has_value());
  EXPECT_TRUE(OpenStore()->ListApiSources()->empty());
  // Pausing and resuming stay possible: they are not definitions.
  EXPECT_EQ(Call("POST", "/api/admin/sources/a/pause").status, 200);
  EXPECT_EQ(Call("POST", "/api/admin/sources/a/resume").status, 200);
}

// Clean runs leave no open warnings, so there is nothing to acknowledge (the browser test covers
// a rejected record that stays open after an unchanged run until acknowledged).
TEST_P(AdminApiTest, ASourceWithoutWarningsHasNothingToAcknowledge) {
  Start({Source("a")});
  RunUntil("a", 1);
  EXPECT_TRUE(Call("GET", "/api/admin/sources/a").Json()["openWarnings"].is_null());
  ExpectProblem(Call("POST", "/api/admin/sources/a/acknowledge"), 409, "no open warnings");
  ExpectProblem(Call("POST", "/api/admin/sources/nope/acknowledge"), 404, "nope");
}

// Warnings stay open behind runs that say nothing about the data (failed ones), also when they
// sit further back than the first runs read for a source; acknowledging closes them.
TEST_P(AdminApiTest, WarningsBehindFailedRunsStayOpenUntilAcknowledged) {
  Start({Source("a")});
  RunUntil("a", 1);
  int64_t warned = 0;
  {
    auto store = OpenStore();
    const std::string at = FormatUtc(clock_.Now());
    Result<int64_t> run = store->BeginRun("a", at);
    ASSERT_TRUE(run.ok());
    warned = *run;
    storage::CheckpointBatch batch;
    batch.run_id = warned;
    batch.source_id = "a";
    batch.stream = "students";
    batch.warnings = 2;
    batch.committed_at = at;
    ASSERT_TRUE(store->CommitCheckpoint(batch).ok());
    ASSERT_TRUE(
        store->FinishRun(warned, storage::RunStatus::kSucceededWithWarnings, at, "", "").ok());
    for (int i = 0; i < 3; ++i) {
      Result<int64_t> failed = store->BeginRun("a", at);
      ASSERT_TRUE(failed.ok());
      ASSERT_TRUE(store->FinishRun(*failed, storage::RunStatus::kFailed, at, "io", "timeout").ok());
    }
  }
  const json open = Call("GET", "/api/admin/sources/a").Json()["openWarnings"];
  ASSERT_TRUE(open.is_object()) << open;
  EXPECT_EQ(open["runId"], warned);
  EXPECT_EQ(open["warnings"], 2);
  EXPECT_EQ(Call("POST", "/api/admin/sources/a/acknowledge").status, 200);
  EXPECT_TRUE(Call("GET", "/api/admin/sources/a").Json()["openWarnings"].is_null());
}

TEST_P(AdminApiTest, CursorsAreReadAndResetForAFullPull) {
  Start({Source("a")});
  RunUntil("a", 1);
  json cursors = Call("GET", "/api/admin/sources/a/cursor").Json()["cursors"];
  ASSERT_FALSE(cursors.empty());
  EXPECT_TRUE(cursors[0].contains("stream"));
  EXPECT_TRUE(cursors[0]["cursor"].is_string());
  ASSERT_EQ(Call("DELETE", "/api/admin/sources/a/cursor").status, 204);
  EXPECT_TRUE(Call("GET", "/api/admin/sources/a/cursor").Json()["cursors"].empty());
  RunNowAndWait("a");
  json run = Call("GET", "/api/admin/sources/a").Json()["lastRun"];
  // A full pull again: everything is seen, nothing is new.
  EXPECT_GT(run["counts"]["pulled"].get<int64_t>(), 0);
  EXPECT_EQ(run["counts"]["created"], 0);
  ExpectProblem(Call("GET", "/api/admin/sources/zz/cursor"), 404);
}

// ---- errors ------------------------------------------------------------------------------------

TEST_P(AdminApiTest, ErrorsAreProblemsNamingWhatIsWrong) {
  Start({Source("a")});
  ExpectProblem(Call("GET", "/api/admin/sources/nope"), 404, "nope");
  ExpectProblem(Call("GET", "/api/admin/sources/nope/runs"), 404);
  ExpectProblem(Call("POST", "/api/admin/sources/nope/run"), 404);
  ExpectProblem(Call("GET", "/api/admin/runs/999999"), 404);
  ExpectProblem(Call("GET", "/api/admin/runs/abc"), 400, "runId");
  ExpectProblem(Call("GET", "/api/admin/entities/spaceship"), 404, "spaceship");
  for (const char* limit : {"0", "501", "abc", "-1", "1.5"}) {
    ExpectProblem(Call("GET", std::string("/api/admin/events?limit=") + limit), 400, "limit");
    ExpectProblem(Call("GET", std::string("/api/admin/sources/a/runs?limit=") + limit), 400,
                  "limit");
  }
  ExpectProblem(Call("GET", "/api/admin/sources/a/runs?before=x"), 400, "before");
  ExpectProblem(Call("GET", "/api/admin/events?after=-3"), 400, "after");
  ExpectProblem(Call("GET", "/api/admin/entities/student?offset=x"), 400, "offset");

  Reply wrong_method = Call("PATCH", "/api/admin/sources");
  ExpectProblem(wrong_method, 405);
  EXPECT_THAT(wrong_method.headers.get("Allow", ""), HasSubstr("GET"));
  EXPECT_THAT(wrong_method.headers.get("Allow", ""), HasSubstr("POST"));
  ExpectProblem(Call("GET", "/api/admin/nothing-here"), 404);

  ExpectProblem(Call("POST", "/api/admin/sources", "not json"), 400, "JSON object");
  const json good = {
      {"id", "n"}, {"connector", "sida_stub"}, {"companyId", "c"}, {"sourceSystem", "s"}};
  for (const auto& [field, value, named] : std::vector<std::tuple<std::string, json, std::string>>{
           {"connector", nullptr, "connector"},
           {"companyId", "", "companyId"},
           {"id", "has space", "id"},
           {"options", "x", "options"},
           {"intervalSeconds", -1, "intervalSeconds"},
           {"enabled", "yes", "enabled"},
           {"colour", "red", "colour"}}) {
    json body = good;
    if (value.is_null()) {
      body.erase(field);
    } else {
      body[field] = value;
    }
    ExpectProblem(Call("POST", "/api/admin/sources", body.dump()), 400, named);
  }
  ExpectProblem(Call("PUT", "/api/admin/sources/a",
                     json{{"id", "other"},
                          {"connector", "sida_stub"},
                          {"companyId", "c"},
                          {"sourceSystem", "s"}}
                         .dump()),
                400, "id");
  // Nothing was created or changed by the refused requests.
  EXPECT_EQ(Call("GET", "/api/admin/sources").Json()["items"].size(), 1u);
  EXPECT_EQ(engine_->SourceDefinition("a")->row.company_id, "autoscuola-a");
}

// ---- runs, masking -----------------------------------------------------------------------------

TEST_P(AdminApiTest, RunsArePagedNewestFirst) {
  Start({Source("a")});
  RunUntil("a", 1);
  {
    // Four more runs that each failed (idle runs would fold into one row).
    auto store = OpenStore();
    for (int i = 0; i < 4; ++i) {
      const std::string at = FormatUtc(clock_.Now());
      Result<int64_t> run = store->BeginRun("a", at);
      ASSERT_TRUE(run.ok());
      ASSERT_TRUE(store->FinishRun(*run, storage::RunStatus::kFailed, at, "io", "timeout").ok());
    }
  }
  std::vector<int64_t> ids;
  std::string uri = "/api/admin/sources/a/runs?limit=2";
  for (int page = 0; page < 5; ++page) {
    Reply reply = Call("GET", uri);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const json body = reply.Json();
    for (const json& run : body["items"]) ids.push_back(run["id"].get<int64_t>());
    if (body["next"].is_null()) break;
    EXPECT_EQ(body["items"].size(), 2u);
    uri = "/api/admin/sources/a/runs?limit=2&before=" + std::to_string(body["next"].get<int64_t>());
  }
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 5u);
  // The default page holds them all, with no next.
  const json all = Call("GET", "/api/admin/sources/a/runs").Json();
  EXPECT_EQ(all["items"].size(), 5u);
  EXPECT_TRUE(all["next"].is_null());
}

TEST_P(AdminApiTest, RunsCarryTheirEventsAndIdleRunsShowAsOneRow) {
  Start({Source("a")});
  RunUntil("a", 1);
  for (int i = 0; i < 3; ++i) RunNowAndWait("a");  // nothing new: idle
  const json runs = Call("GET", "/api/admin/sources/a/runs").Json()["items"];
  ASSERT_EQ(runs.size(), 2u) << runs.dump();
  EXPECT_EQ(runs[0]["runs"], 3);
  EXPECT_EQ(runs[0]["counts"]["events"], 0);
  EXPECT_EQ(runs[0]["status"], "ok");
  EXPECT_EQ(runs[1]["runs"], 1);
  EXPECT_GT(runs[1]["counts"]["events"].get<int64_t>(), 0);
  EXPECT_EQ(runs[1]["counts"]["events"], runs[1]["counts"]["created"]);
  // The source's last run is the folded row, by the latest run's id.
  EXPECT_EQ(Call("GET", "/api/admin/sources/a").Json()["lastRun"]["runs"], 3);
}

TEST_P(AdminApiTest, PersonalDataInRunLogsAndErrorsIsMasked) {
  Start({Source("a")});
  auto store = OpenStore();
  Result<int64_t> run = store->BeginRun("a", FormatUtc(clock_.Now()));
  ASSERT_TRUE(run.ok());
  // Written raw on purpose (as a line stored by an older build would be): the API masks anyway.
  const std::string at = FormatUtc(clock_.Now());
  ASSERT_TRUE(store
                  ->AppendRunLog(*run, {at, storage::LogLevel::kWarn,
                                        "students.csv:12: fiscal code RSSMRA85T10A562S is taken"})
                  .ok());
  ASSERT_TRUE(store
                  ->AppendRunLog(*run, {at, storage::LogLevel::kError,
                                        "write to mario.rossi@example.com or +39 333 1234567"})
                  .ok());
  ASSERT_TRUE(store
                  ->FinishRun(*run, storage::RunStatus::kFailed, at, "retryable",
                              "record of RSSMRA85T10A562S (mario.rossi@example.com) refused")
                  .ok());
  Reply reply = Call("GET", "/api/admin/runs/" + std::to_string(*run));
  ASSERT_EQ(reply.status, 200) << reply.body;
  for (const char* secret :
       {"RSSMRA85T10A562S", "mario.rossi@example.com", "3331234567", "333 1234567"}) {
    EXPECT_THAT(reply.body, Not(HasSubstr(secret)));
  }
  const json body = reply.Json();
  EXPECT_EQ(body["id"], *run);
  EXPECT_EQ(body["sourceId"], "a");
  EXPECT_EQ(body["status"], "failed");
  ASSERT_EQ(body["log"].size(), 2u);
  EXPECT_EQ(body["log"][0]["level"], "warn");
  EXPECT_THAT(body["log"][0]["message"].get<std::string>(), HasSubstr("cf#"));
  ASSERT_EQ(body["warnings"].size(), 1u);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("cf#"));
  // The runs list shows the same masked error.
  EXPECT_THAT(Call("GET", "/api/admin/sources/a/runs").body, Not(HasSubstr("RSSMRA85T10A562S")));

  // A real run of the stub (its records hold fiscal codes, e-mails and phones) shows none of them
  // anywhere in the API.
  RunUntil("a", 1);
  std::string everything;
  for (const json& run_item : Call("GET", "/api/admin/sources/a/runs").Json()["items"]) {
    everything +=
        Call("GET", "/api/admin/runs/" + std::to_string(run_item["id"].get<int64_t>())).body;
  }
  everything += Call("GET", "/api/admin/entities/student?limit=500").body;
  everything += Call("GET", "/api/admin/events?limit=500").body;
  const std::regex fiscal_code(
      "[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]");
  EXPECT_FALSE(std::regex_search(everything, fiscal_code));
  EXPECT_FALSE(std::regex_search(everything, std::regex("[a-z0-9.]+@[a-z0-9]+\\.[a-z]+")));
}

// ---- plugins, events, dead letters, entities --------------------------------------------------

TEST_P(AdminApiTest, PluginsAreListedWithVersionAbiAndFile) {
  Start({Source("a")});
  const json plugins = Call("GET", "/api/admin/plugins").Json()["items"];
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins[0]["name"], "sida_stub");
  EXPECT_EQ(plugins[0]["version"], "1.0.0");
  EXPECT_EQ(plugins[0]["abiVersion"], "1.0");
  EXPECT_EQ(plugins[0]["file"], (dir_ / "plugins" / "sida_stub.so").string());
  EXPECT_EQ(plugins[0]["loaded"], true);
  EXPECT_EQ(plugins[0]["quarantined"], false);
  EXPECT_TRUE(plugins[0]["error"].is_null());
}

TEST_P(AdminApiTest, EventsArePagedAfterASequenceAndFiltered) {
  Start({Source("a"), Source("b")});
  RunUntil("a", 1);
  ASSERT_TRUE(engine_->WaitForRuns("b", 1, kWait));
  const json all = Call("GET", "/api/admin/events?limit=500").Json();
  const size_t total = all["items"].size();
  ASSERT_GT(total, 10u);
  EXPECT_TRUE(all["next"].is_null());
  const json first = all["items"][0];
  for (const char* field : {"sequence", "id", "type", "source", "subject", "time", "data"}) {
    EXPECT_TRUE(first.contains(field)) << field;
  }
  // Page through with after=next.
  size_t seen = 0;
  int64_t after = 0;
  int64_t last = 0;
  for (int page = 0; page < 1000; ++page) {
    const json body =
        Call("GET", "/api/admin/events?limit=7&after=" + std::to_string(after)).Json();
    for (const json& event : body["items"]) {
      EXPECT_GT(event["sequence"].get<int64_t>(), last);
      last = event["sequence"].get<int64_t>();
      ++seen;
    }
    if (body["next"].is_null()) break;
    after = body["next"].get<int64_t>();
  }
  EXPECT_EQ(seen, total);
  // Filters.
  const json created = Call("GET", "/api/admin/events?limit=500&type=student.created").Json();
  ASSERT_FALSE(created["items"].empty());
  for (const json& event : created["items"]) EXPECT_EQ(event["type"], "student.created");
  const json company = Call("GET", "/api/admin/events?limit=500&company=autoscuola-b").Json();
  ASSERT_FALSE(company["items"].empty());
  EXPECT_LT(company["items"].size(), total);
  for (const json& event : company["items"]) {
    EXPECT_EQ(event["data"]["companyId"], "autoscuola-b");
  }
  EXPECT_EQ(all["total"], total);
  EXPECT_EQ(company["total"], company["items"].size());
  // Newest first, paged backwards with before=next, the same total.
  size_t newest_seen = 0;
  int64_t before = 0;
  int64_t previous = std::numeric_limits<int64_t>::max();
  for (int page = 0; page < 1000; ++page) {
    const json body =
        Call("GET", "/api/admin/events?order=newest&limit=7&before=" + std::to_string(before))
            .Json();
    EXPECT_EQ(body["total"], total);
    for (const json& event : body["items"]) {
      EXPECT_LT(event["sequence"].get<int64_t>(), previous);
      previous = event["sequence"].get<int64_t>();
      ++newest_seen;
    }
    if (page == 0) {
      EXPECT_EQ(body["items"][0]["sequence"], all["items"][total - 1]["sequence"]);
    }
    if (body["next"].is_null()) break;
    before = body["next"].get<int64_t>();
  }
  EXPECT_EQ(newest_seen, total);
  ExpectProblem(Call("GET", "/api/admin/events?order=sideways"), 400, "order");
}

// ---- data subjects (issue #18) --------------------------------------------------------------

// Two students of company "c" stored through the Store; the API then answers about them.
void StoreTwoStudents(storage::Store& store) {
  ASSERT_TRUE(store.UpsertSource({"c-csv", "c", "csv", "csv", "{}", true, "new"}).ok());
  storage::CheckpointBatch batch;
  batch.run_id = *store.BeginRun("c-csv", "2025-06-01T08:00:00.000Z");
  batch.source_id = "c-csv";
  batch.stream = "allievi";
  for (const auto& [id, name, cf] : {std::tuple{"A1", "Bellomonte", "RSSMRA85T10A562S"},
                                     std::tuple{"A2", "Castellani", "LMBBRC92C45F205R"}}) {
    model::RawRecord raw;
    raw.entity = "student";
    raw.company_id = "c";
    raw.source_system = "csv";
    raw.external_id = id;
    raw.fields = {{"lastName", name}, {"fiscalCode", cf}};
    batch.records.push_back(std::get<model::CanonicalRecord>(model::Validate(raw)));
  }
  batch.committed_at = "2025-06-01T08:00:01.000Z";
  ASSERT_TRUE(store.CommitCheckpoint(batch).ok());
}

TEST_P(AdminApiTest, SubjectsAreExportedAndErasedThroughTheApi) {
  ASSERT_NO_FATAL_FAILURE(StoreTwoStudents(*OpenStore()));
  Start({});
  const json by_cf = {{"companyId", "c"}, {"fiscalCode", "RSSMRA85T10A562S"}};
  Reply exported = Call("POST", "/api/admin/subjects/export", by_cf.dump());
  ASSERT_EQ(exported.status, 200) << exported.body;
  EXPECT_EQ(exported.Json()["records"][0]["record"]["lastName"], "Bellomonte");
  EXPECT_EQ(exported.Json()["events"][0]["type"], "student.created");
  EXPECT_THAT(exported.body, Not(HasSubstr("Castellani")));
  Reply by_id = Call("GET", "/api/admin/subjects/student/A1?company=c");
  ASSERT_EQ(by_id.status, 200) << by_id.body;
  EXPECT_EQ(by_id.Json()["records"][0]["externalId"], "A1");

  Reply erased = Call("POST", "/api/admin/subjects/erase", by_cf.dump());
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(erased.Json()["records"], 1);
  EXPECT_EQ(erased.Json()["erasedEvents"].size(), 1u);
  Reply again = Call("POST", "/api/admin/subjects/student/A1/erase?company=c");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.Json()["alreadyErased"], true);
  EXPECT_EQ(again.Json()["erasedEvents"].size(), 0u);
  Reply tombstone = Call("GET", "/api/admin/subjects/student/A1?company=c");
  EXPECT_EQ(tombstone.Json()["records"][0]["erased"], true);
  EXPECT_THAT(tombstone.body, Not(HasSubstr("Bellomonte")));
  ExpectProblem(Call("POST", "/api/admin/subjects/export", by_cf.dump()), 404, "nothing");
  Reply other = Call("GET", "/api/admin/subjects/student/A2?company=c");
  EXPECT_THAT(other.body, HasSubstr("Castellani"));
  Reply inactive = Call("GET", "/api/admin/subjects/inactive");
  ASSERT_EQ(inactive.status, 200) << inactive.body;
  EXPECT_TRUE(inactive.Json()["items"].empty());

  // Each erasure left its audit row (written with it), naming the student, never a value; the
  // export is audited as an access.
  Reply audit = Call("GET", "/api/admin/audit?action=subject.erase");
  ASSERT_EQ(audit.status, 200) << audit.body;
  ASSERT_EQ(audit.Json()["items"].size(), 2u) << audit.body;
  for (const json& row : audit.Json()["items"]) {
    EXPECT_EQ(row["outcome"], "ok");
    EXPECT_EQ(row["target"], "student/A1");
  }
  EXPECT_THAT(audit.body, Not(HasSubstr("RSSMRA85T10A562S")));
  EXPECT_THAT(audit.body, Not(HasSubstr("Bellomonte")));
  EXPECT_EQ(Call("GET", "/api/admin/audit?action=subject.export").Json()["items"].size(), 2u);
}

TEST_P(AdminApiTest, SubjectRequestsRefuseBadInputAsProblems) {
  ASSERT_NO_FATAL_FAILURE(StoreTwoStudents(*OpenStore()));
  Start({});
  ExpectProblem(Call("GET", "/api/admin/subjects/student/A1"), 400, "company");
  ExpectProblem(Call("GET", "/api/admin/subjects/student/ZZ?company=c"), 404, "nothing");
  ExpectProblem(Call("GET", "/api/admin/subjects/lesson/A1?company=c"), 400, "entity");
  ExpectProblem(Call("GET", "/api/admin/subjects/vehicle/V1?company=c"), 400, "student");
  for (const auto& [body, named] : std::vector<std::pair<json, std::string>>{
           {json::object(), "companyId"},
           {{{"companyId", "c"}}, "fiscalCode"},
           {{{"companyId", "c"}, {"fiscalCode", "X"}, {"entity", "student"}, {"externalId", "A1"}},
            "not both"},
           {{{"companyId", "c"}, {"fiscalCode", 7}}, "fiscalCode"},
           {{{"companyId", "c"}, {"cf", "X"}}, "cf"}}) {
    ExpectProblem(Call("POST", "/api/admin/subjects/export", body.dump()), 400, named);
    ExpectProblem(Call("POST", "/api/admin/subjects/erase", body.dump()), 400, named);
  }
  ExpectProblem(Call("POST", "/api/admin/subjects/erase", "not json"), 400, "JSON object");
  // Nothing was erased by the refused requests.
  EXPECT_EQ(Call("GET", "/api/admin/subjects/student/A1?company=c").Json()["records"][0]["erased"],
            false);
}

TEST_P(AdminApiTest, DeadLettersAreListed) {
  Start({Source("m", {{"malformed_every", 5}})});
  RunUntil("m", 1);
  const json body = Call("GET", "/api/admin/dead-letters?limit=2").Json();
  ASSERT_EQ(body["items"].size(), 2u);
  const json letter = body["items"][0];
  for (const char* field : {"id", "sourceId", "runId", "entity", "externalId", "reason", "at"}) {
    EXPECT_TRUE(letter.contains(field)) << field;
  }
  EXPECT_EQ(letter["sourceId"], "m");
  ASSERT_FALSE(body["next"].is_null());
  const json more =
      Call("GET", "/api/admin/dead-letters?after=" + std::to_string(body["next"].get<int64_t>()))
          .Json();
  ASSERT_FALSE(more["items"].empty());
  EXPECT_GT(more["items"][0]["id"].get<int64_t>(), body["items"][1]["id"].get<int64_t>());
}

TEST_P(AdminApiTest, EntityBrowserPagesSearchesAndMasks) {
  Start({Source("a"), Source("b")});
  RunUntil("a", 1);
  ASSERT_TRUE(engine_->WaitForRuns("b", 1, kWait));
  const json entities = Call("GET", "/api/admin/entities").Json()["items"];
  ASSERT_EQ(entities.size(), model::CanonicalEntities().size());
  int64_t students = 0;
  for (const json& entity : entities) {
    if (entity["name"] == "student") students = entity["count"].get<int64_t>();
  }
  ASSERT_GT(students, 4);

  json page = Call("GET", "/api/admin/entities/student?limit=3").Json();
  EXPECT_EQ(page["total"], students);
  ASSERT_EQ(page["items"].size(), 3u);
  EXPECT_EQ(page["next"], 3);
  const json first = page["items"][0];
  for (const char* field :
       {"externalId", "companyId", "sourceSystem", "version", "updatedAt", "data"}) {
    EXPECT_TRUE(first.contains(field)) << field;
  }
  if (first["data"].contains("fiscalCode")) {
    EXPECT_THAT(first["data"]["fiscalCode"].get<std::string>(), HasSubstr("cf#"));
  }
  // Every page, in order, exactly once.
  std::set<std::string> keys;
  for (int64_t offset = 0; offset < students; offset += 3) {
    page =
        Call("GET", "/api/admin/entities/student?limit=3&offset=" + std::to_string(offset)).Json();
    for (const json& item : page["items"]) {
      keys.insert(item["companyId"].get<std::string>() + "/" +
                  item["externalId"].get<std::string>());
    }
  }
  EXPECT_EQ(static_cast<int64_t>(keys.size()), students);

  page = Call("GET", "/api/admin/entities/student?company=autoscuola-b&limit=500").Json();
  ASSERT_GT(page["total"].get<int64_t>(), 0);
  for (const json& item : page["items"]) EXPECT_EQ(item["companyId"], "autoscuola-b");

  // Search by a last name seen in the data (any case) and by externalId.
  const std::string last_name = first["data"]["lastName"].get<std::string>();
  std::string upper = last_name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  page = Call("GET", "/api/admin/entities/student?limit=500&q=" + upper).Json();
  ASSERT_GT(page["total"].get<int64_t>(), 0);
  for (const json& item : page["items"]) {
    const std::string name =
        item["data"].value("firstName", "") + " " + item["data"].value("lastName", "");
    EXPECT_THAT(name, HasSubstr(last_name));
  }
  const std::string external_id = first["externalId"].get<std::string>();
  page = Call("GET", "/api/admin/entities/student?limit=500&q=" + external_id +
                         "&company=" + first["companyId"].get<std::string>())
             .Json();
  ASSERT_EQ(page["total"], 1);
  EXPECT_EQ(page["items"][0]["externalId"], external_id);
}

// ---- metrics
// -------------------------------------------------------------------------------------

// One sample line of the text format, parsed back.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the exposition text strictly (format 0.0.4): every line is a HELP, a TYPE or a sample of
// the family announced just before, names and labels valid, label values properly escaped.
std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  std::string help_for;
  std::string type_for;
  std::set<std::string> families;
  const std::regex help("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)");
  const std::regex type(
      "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)");
  const std::regex sample(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? ([-+]?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");
  const std::regex label("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"(,|$)");
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(families.insert(m[1]).second) << "family twice: " << m[1];
      help_for = m[1];
    } else if (std::regex_match(line, m, type)) {
      EXPECT_EQ(m[1], help_for) << line;
      type_for = m[1];
    } else if (std::regex_match(line, m, sample)) {
      Sample s;
      s.name = m[1];
      EXPECT_EQ(s.name, type_for) << "sample outside its family: " << line;
      std::string labels = m[3];
      while (!labels.empty()) {
        std::smatch l;
        if (!std::regex_search(labels, l, label) || l.position(0) != 0) {
          ADD_FAILURE() << "bad labels: " << line;
          break;
        }
        s.labels[l[1]] = l[2];
        labels = l.suffix();
      }
      s.value = std::stod(m[4]);
      samples.push_back(std::move(s));
    } else {
      ADD_FAILURE() << "not a valid exposition line: " << line;
    }
  }
  return samples;
}

double Find(const std::vector<Sample>& samples, const std::string& name,
            const std::map<std::string, std::string>& labels) {
  for (const Sample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  ADD_FAILURE() << "no sample " << name;
  return -1;
}

TEST_P(AdminApiTest, MetricsAreValidExpositionTextWithTheValuesOfARealSync) {
  Start({Source("a"), Source("bad", {{"faults", {{"auth_error", true}}}})});
  RunUntil("a", 1);
  ASSERT_TRUE(engine_->WaitForRuns("bad", 1, kWait));
  clock_.Advance(seconds(12));
  Reply reply = Call("GET", "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.content_type, HasSubstr("text/plain"));
  EXPECT_THAT(reply.content_type, HasSubstr("version=0.0.4"));
  const std::vector<Sample> samples = ParseExposition(reply.body);

  auto runs = OpenStore()->ListRunsBefore("a", 0, 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const storage::RunCounters& c = runs->front().counters;
  EXPECT_EQ(Find(samples, "reglo_runs_total", {{"source", "a"}, {"outcome", "ok"}}), 1);
  EXPECT_EQ(Find(samples, "reglo_runs_total", {{"source", "bad"}, {"outcome", "failed"}}), 1);
  EXPECT_EQ(Find(samples, "reglo_records_total", {{"source", "a"}, {"outcome", "created"}}),
            static_cast<double>(c.created));
  EXPECT_EQ(Find(samples, "reglo_records_total", {{"source", "a"}, {"outcome", "updated"}}),
            static_cast<double>(c.updated));
  EXPECT_EQ(Find(samples, "reglo_sync_lag_seconds", {{"source", "a"}}), 12);
  EXPECT_EQ(Find(samples, "reglo_sources", {{"status", "ok"}}), 1);
  EXPECT_EQ(Find(samples, "reglo_sources", {{"status", "failed"}}), 1);
  EXPECT_EQ(Find(samples, "reglo_sources", {{"status", "paused"}}), 0);
  EXPECT_EQ(Find(samples, "reglo_source_backoff", {{"source", "a"}}), 0);
  EXPECT_EQ(Find(samples, "reglo_source_consecutive_failures", {{"source", "bad"}}), 1);
  EXPECT_EQ(Find(samples, "reglo_plugins_loaded", {}), 1);
  for (const Sample& s : samples) {
    // A source that never synced has no lag sample.
    EXPECT_FALSE(s.name == "reglo_sync_lag_seconds" && s.labels.at("source") == "bad");
  }
}

// ---- schema ------------------------------------------------------------------------------------

TEST_P(AdminApiTest, TheCanonicalModelsJsonSchemasAreServed) {
  Start({Source("a")});
  const Reply all = Call("GET", "/api/admin/schema");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.content_type, "application/json");
  const json items = all.Json()["items"];
  ASSERT_EQ(items.size(), model::CanonicalEntities().size());
  for (size_t i = 0; i < items.size(); ++i) {
    const model::EntitySpec& entity = model::CanonicalEntities()[i];
    // What the hub serves is what reglo-schema-doc installs, in the entities' order.
    EXPECT_EQ(items[i], json::parse(model::EntityJsonSchema(entity))) << entity.name;
    EXPECT_EQ(items[i]["$schema"], "https://json-schema.org/draft/2020-12/schema");
  }
  const Reply payment = Call("GET", "/api/admin/schema/payment");
  ASSERT_EQ(payment.status, 200) << payment.body;
  const json schema = payment.Json();
  EXPECT_EQ(schema["properties"]["entity"]["const"], "payment");
  EXPECT_EQ(schema["properties"]["currency"]["default"], "EUR");
  EXPECT_EQ(schema["properties"]["method"]["enum"],
            json({"cash", "card", "bank_transfer", "pos", "other"}));
  ExpectProblem(Call("GET", "/api/admin/schema/pupil"), 404, "no entity 'pupil'");
  ExpectProblem(Call("GET", "/api/admin/schema/%1b%5b31m"), 404, "no entity '\\e[31m'");
}

// ---- console
// -------------------------------------------------------------------------------------

TEST_P(AdminApiTest, ConsoleFilesAreServedWithTheirTypesAndNoToken) {
  fs::create_directories(dir_ / "console" / "img");
  std::ofstream(dir_ / "console" / "index.html") << "<!doctype html><title>Console</title>";
  std::ofstream(dir_ / "console" / "app.js") << "console.log(1);";
  std::ofstream(dir_ / "console" / "img" / "logo.svg") << "<svg/>";
  std::ofstream(dir_ / "secret.txt") << "outside";
  AdminOptions admin;
  admin.console_dir = dir_ / "console";
  Start({Source("a")}, admin);
  Reply index = Call("GET", "/", "", std::nullopt);
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(index.body, HasSubstr("Console"));
  Reply script = Call("GET", "/console/app.js", "", std::nullopt);
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Call("GET", "/console/img/logo.svg", "", std::nullopt).content_type, "image/svg+xml");
  ExpectProblem(Call("GET", "/console/missing.css", "", std::nullopt), 404);
  ExpectProblem(Call("GET", "/console/../secret.txt", "", std::nullopt), 404);
  ExpectProblem(Call("GET", "/console/%2e%2e/secret.txt", "", std::nullopt), 404);
}

// The engine decides under its lock and probes, loads and writes outside it (issue #15): while
// a new plugin whose entry point takes up to 10 s is being probed, the API still answers, reads
// and commands alike.
TEST_P(AdminApiTest, TheApiAnswersWhileANewPluginIsBeingProbed) {
  options_.watch_plugins = true;
  options_.watch_interval = seconds(1);
  options_.plugin_settle = seconds(1);
  options_.runner.runner = REGLO_RUNNER_BINARY;
  Start({Source("a")});
  const fs::path marks = dir_ / "slow-load";
  fs::create_directories(marks);
  ASSERT_EQ(::setenv("REGLO_TEST_SLOW_LOAD_DIR", marks.c_str(), 1), 0);  // the probe inherits it
  fs::copy_file(REGLO_SLOW_LOAD_PLUGIN, dir_ / "plugins" / ".slow_load.so.tmp");
  fs::rename(dir_ / "plugins" / ".slow_load.so.tmp", dir_ / "plugins" / "slow_load.so");
  clock_.Advance(seconds(1));
  engine_->Tick();  // sees the new library; it must stay unchanged for plugin_settle
  clock_.Advance(seconds(1));
  std::atomic<bool> ticked{false};
  std::thread tick([&] {
    engine_->Tick();  // probes it: blocks until the release file appears (at most 10 s)
    ticked = true;
  });
  struct Release {
    fs::path file;
    std::thread& tick;
    ~Release() {
      std::ofstream(file) << "go";
      tick.join();
      ::unsetenv("REGLO_TEST_SLOW_LOAD_DIR");
    }
  } release{marks / "release", tick};
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return fs::exists(marks / "loading"); }, kWait,
                                        milliseconds(1)));

  const auto asked = std::chrono::steady_clock::now();
  const Reply sources = Call("GET", "/api/admin/sources");
  const Reply metrics = Call("GET", "/metrics");
  const Reply paused = Call("POST", "/api/admin/sources/a/pause");
  const auto answered = std::chrono::steady_clock::now();
  EXPECT_FALSE(ticked) << "the API waited for the probe";
  RecordProperty(
      "api_answer_ms",
      static_cast<int>(std::chrono::duration_cast<milliseconds>(answered - asked).count()));
  EXPECT_EQ(sources.status, 200) << sources.body;
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(engine_->Source("a")->status, "paused");
}

INSTANTIATE_TEST_SUITE_P(Backends, AdminApiTest, ::testing::ValuesIn(AdminBackends()),
                         storage::testing::BackendName);

}  // namespace
}  // namespace reglo::admin
