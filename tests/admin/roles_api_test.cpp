// Roles and the audit log through the admin API (issue #18 §3), end to end like
// admin_api_test.cpp: the route table's roles and audit actions, each role against every
// state-changing route (403 naming the role, an audit row for every attempt), whoami, named tokens
// through the API, the audit log's filters, and an audited change and its row in one transaction.
#include <gmock/gmock.h>

#include <map>

#include "admin_api_fixture.h"
#include "admin_backends.h"
#include "reglo/admin/access.h"

namespace reglo::admin {
namespace {

using namespace testing_fixture;  // NOLINT: the suite's own fixture

class RolesApiTest : public AdminApiTest {
 protected:
  // One named token per role, created in the store; returns the tokens by role name.
  std::map<std::string, std::string> MakeRoleTokens() {
    auto store = OpenStore();
    std::map<std::string, std::string> tokens;
    for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
      const std::string name(RoleName(role));
      Result<std::string> token = CreateNamedToken(*store, "t-" + name, role, clock_);
      EXPECT_TRUE(token.ok()) << token.status().ToString();
      tokens[name] = token.ok() ? *token : "";
    }
    return tokens;
  }

  // The newest audit row, read from the store.
  std::optional<storage::AuditRow> LastAudit() {
    storage::AuditQuery query;
    query.limit = 1;
    Result<std::vector<storage::AuditRow>> rows = OpenStore()->ListAudit(query);
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->empty()) return std::nullopt;
    return rows->front();
  }

  // The audit rows of one action, newest first.
  std::vector<storage::AuditRow> AuditRowsOf(const std::string& action) {
    storage::AuditQuery query;
    query.action = action;
    Result<std::vector<storage::AuditRow>> rows = OpenStore()->ListAudit(query);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<storage::AuditRow>{};
  }

  static std::string Uri(const RouteInfo& route) {
    std::string uri = route.pattern;
    for (const auto& [param, value] : std::vector<std::pair<std::string, std::string>>{
             {"{id}", "a"}, {"{sequence}", "1"}, {"{name}", "nobody"}}) {
      if (size_t at = uri.find(param); at != std::string::npos)
        uri.replace(at, param.size(), value);
    }
    return uri;
  }
};

bool Mutating(const RouteInfo& route) {
  return route.method != "GET" && route.method != "HEAD";
}

TEST_P(RolesApiTest, EveryStateChangingRouteNamesARoleAboveViewerAndAnAuditAction) {
  Start({Source("a")});
  std::vector<RouteInfo> routes;
  (void)BuildAdminRouter({}, AdminDeps{*engine_, Factory(), clock_, metrics_}, &routes);
  int mutating = 0;
  for (const RouteInfo& route : routes) {
    SCOPED_TRACE(route.method + " " + route.pattern);
    if (!Mutating(route)) {
      EXPECT_EQ(route.action, "") << "a read is not audited";
      continue;
    }
    ++mutating;
    EXPECT_TRUE(route.needs_token);
    EXPECT_TRUE(route.role == "operator" || route.role == "admin") << route.role;
    EXPECT_FALSE(route.action.empty()) << "a state-changing route without an audit action";
  }
  EXPECT_GE(mutating, 17);
  // Reads that only admins may do.
  for (const char* pattern : {"/api/admin/audit", "/api/admin/tokens"}) {
    EXPECT_TRUE(std::any_of(routes.begin(), routes.end(), [&](const RouteInfo& route) {
      return route.pattern == pattern && route.method == "GET" && route.role == "admin";
    })) << pattern;
  }
}

// Table-driven over the route table, so a new route is covered the day it is added: a role below
// the route's gets 403 naming the role needed, a role at or above it gets past the check, and
// every attempt leaves its audit row (who, role, action, outcome).
TEST_P(RolesApiTest, EachRoleAgainstEveryStateChangingRouteLeavesAnAuditRow) {
  Start({Source("a")});
  const std::map<std::string, std::string> tokens = MakeRoleTokens();
  std::vector<RouteInfo> routes;
  (void)BuildAdminRouter({}, AdminDeps{*engine_, Factory(), clock_, metrics_}, &routes);
  for (const RouteInfo& route : routes) {
    if (!Mutating(route)) continue;
    const Role needed = *ParseRole(route.role);
    for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
      const std::string name(RoleName(role));
      SCOPED_TRACE(route.method + " " + route.pattern + " as " + name);
      const Reply reply = Call(route.method, Uri(route), "{}", tokens.at(name));
      if (!Allows(role, needed)) {
        ExpectProblem(reply, 403, "needs the " + route.role + " role");
      } else {
        EXPECT_NE(reply.status, 403) << reply.body;
        EXPECT_NE(reply.status, 401) << reply.body;
      }
      std::optional<storage::AuditRow> row = LastAudit();
      ASSERT_TRUE(row.has_value());
      EXPECT_EQ(row->action, route.action);
      EXPECT_EQ(row->actor, "t-" + name);
      EXPECT_EQ(row->role, name);
      if (!Allows(role, needed)) {
        EXPECT_EQ(row->outcome, "refused");
      } else {
        EXPECT_NE(row->outcome, "refused");
        EXPECT_EQ(row->outcome == "ok", reply.status < 400) << reply.status << " " << reply.body;
      }
    }
  }
}

TEST_P(RolesApiTest, WhoAmINamesTheTokenAndItsRole) {
  Start({Source("a")});
  const std::map<std::string, std::string> tokens = MakeRoleTokens();
  json me = Call("GET", "/api/admin/whoami", "", tokens.at("operator")).Json();
  EXPECT_EQ(me["name"], "t-operator");
  EXPECT_EQ(me["role"], "operator");
  me = Call("GET", "/api/admin/whoami").Json();  // the shared token
  EXPECT_EQ(me["name"], "admin-token");
  EXPECT_EQ(me["role"], "admin");
  // Viewers read.
  EXPECT_EQ(Call("GET", "/api/admin/sources", "", tokens.at("viewer")).status, 200);
  ExpectProblem(Call("GET", "/api/admin/audit", "", tokens.at("viewer")), 403, "admin role");
}

TEST_P(RolesApiTest, TokensAreCreatedAndRevokedThroughTheApi) {
  Start({Source("a")});
  Reply created = Call("POST", "/api/admin/tokens", R"({"name":"anna","role":"viewer"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = created.Json()["token"];
  EXPECT_EQ(Call("GET", "/api/admin/whoami", "", token).Json()["name"], "anna");
  json listed = Call("GET", "/api/admin/tokens").Json()["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["role"], "viewer");
  EXPECT_THAT(listed.dump(), Not(HasSubstr(token)));
  ExpectProblem(Call("POST", "/api/admin/tokens", R"({"name":"anna","role":"admin"})"), 409);
  ExpectProblem(Call("POST", "/api/admin/tokens", R"({"name":"bo","role":"root"})"), 400, "role");
  ASSERT_EQ(Call("DELETE", "/api/admin/tokens/anna").status, 204);
  ExpectProblem(Call("GET", "/api/admin/whoami", "", token), 401);
  std::optional<storage::AuditRow> row = LastAudit();
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->action, "token.revoke");
  EXPECT_EQ(row->target, "anna");
  EXPECT_EQ(row->actor, "admin-token");
  EXPECT_EQ(row->outcome, "ok");
}

TEST_P(RolesApiTest, TheAuditLogIsFilteredAndPagedAndMasksSecretsAndPersonalData) {
  Start({Source("a")});
  const std::map<std::string, std::string> tokens = MakeRoleTokens();
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/pause", "", tokens.at("operator")).status, 200);
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/resume", "", tokens.at("operator")).status, 200);
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/pause", "", tokens.at("viewer")).status, 403);
  const json source = {
      {"id", "b"},
      {"connector", "sida_stub"},
      {"companyId", "autoscuola-b"},
      {"sourceSystem", "sida"},
      {"options",
       {{"system", "b"}, {"password", "hunter2-secret"}, {"contact", "mario.rossi@example.com"}}}};
  ASSERT_EQ(Call("POST", "/api/admin/sources", source.dump(), tokens.at("operator")).status, 201);

  json page = Call("GET", "/api/admin/audit?action=source.pause").Json();
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["outcome"], "refused");  // newest first
  EXPECT_EQ(page["items"][0]["actor"], "t-viewer");
  EXPECT_EQ(page["items"][1]["outcome"], "ok");
  EXPECT_EQ(Call("GET", "/api/admin/audit?actor=t-operator&outcome=ok").Json()["items"].size(), 3u);
  EXPECT_EQ(Call("GET", "/api/admin/audit?target=b").Json()["items"].size(), 1u);
  const std::string now = FormatUtc(clock_.Now());
  EXPECT_EQ(Call("GET", "/api/admin/audit?from=" + now + "&to=" + now).Json()["items"].size(), 4u);
  EXPECT_TRUE(Call("GET", "/api/admin/audit?to=2000-01-01T00:00:00.000Z").Json()["items"].empty());
  json first = Call("GET", "/api/admin/audit?limit=3").Json();
  ASSERT_EQ(first["items"].size(), 3u);
  ASSERT_TRUE(first["next"].is_number());
  json rest = Call("GET", "/api/admin/audit?limit=3&before=" + first["next"].dump()).Json();
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_TRUE(rest["next"].is_null());

  json created = Call("GET", "/api/admin/audit?action=source.create").Json()["items"][0];
  EXPECT_EQ(created["target"], "b");
  EXPECT_TRUE(created["before"].is_null());
  EXPECT_EQ(created["after"]["options"]["password"], "********");
  const std::string text = created.dump();
  EXPECT_THAT(text, Not(HasSubstr("hunter2")));
  EXPECT_THAT(text, Not(HasSubstr("mario.rossi@example.com")));
}

// The cursor reset is written with its audit row in one transaction: when the row cannot be
// written, the reset is undone too (and the other way round, below).
TEST_P(RolesApiTest, AChangeWhoseAuditRowFailsIsNotMade) {
  Start({Source("a")});
  RunUntil("a", 1);
  ASSERT_FALSE(Call("GET", "/api/admin/sources/a/cursor").Json()["cursors"].empty());
  ASSERT_TRUE(backend_->BreakInsertsInto("integration_audit").ok());
  ExpectProblem(Call("DELETE", "/api/admin/sources/a/cursor"), 500);
  EXPECT_FALSE(Call("GET", "/api/admin/sources/a/cursor").Json()["cursors"].empty());
}

TEST_P(RolesApiTest, AChangeAndItsAuditRowCommitTogetherAndAFailedChangeLeavesNoOkRow) {
  Start({Source("a")});
  RunUntil("a", 1);
  json cursors = Call("GET", "/api/admin/sources/a/cursor").Json()["cursors"];
  ASSERT_FALSE(cursors.empty());
  ASSERT_EQ(Call("DELETE", "/api/admin/sources/a/cursor").status, 204);
  std::optional<storage::AuditRow> row = LastAudit();
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->action, "source.cursor-reset");
  EXPECT_EQ(row->outcome, "ok");
  EXPECT_THAT(row->before, HasSubstr(cursors[0]["stream"].get<std::string>()));
  // A redelivery the store refuses (no such subscription): its row says failed, none says ok.
  ExpectProblem(Call("POST", "/api/admin/subscriptions/zz/deliveries/1/redeliver"), 404);
  const std::vector<storage::AuditRow> rows = AuditRowsOf("delivery.redeliver");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].outcome, "failed");
  EXPECT_EQ(rows[0].target, "zz/1");
}

// The changes the engine and the source definitions carry commit with their audit row too: an
// operator command's status is written by the engine in the row's transaction, a source's
// definition by the API in its own. When the row cannot be written, neither changes.
TEST_P(RolesApiTest, EngineCommandsAndSourceDefinitionsCommitWithTheirAuditRow) {
  Start({Source("a")});
  RunUntil("a", 1);
  const auto stored_status = [&](const std::string& id) -> std::string {
    Result<std::vector<storage::SourceRow>> rows = OpenStore()->ListSources();
    EXPECT_TRUE(rows.ok());
    for (const storage::SourceRow& row : rows.ok() ? *rows : std::vector<storage::SourceRow>{}) {
      if (row.id == id) return row.status;
    }
    return "";
  };
  ASSERT_EQ(stored_status("a"), "ok");
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/pause").status, 200);
  EXPECT_EQ(stored_status("a"), "paused");
  ASSERT_EQ(AuditRowsOf("source.pause").size(), 1u);  // the engine's, not a second one by the route
  EXPECT_EQ(AuditRowsOf("source.pause")[0].outcome, "ok");
  EXPECT_EQ(AuditRowsOf("source.pause")[0].target, "a");
  ASSERT_EQ(Call("POST", "/api/admin/sources/a/resume").status, 200);
  EXPECT_EQ(stored_status("a"), "ok");
  const json body = {{"id", "b"},
                     {"connector", "sida_stub"},
                     {"companyId", "autoscuola-b"},
                     {"sourceSystem", "sida"},
                     {"intervalSeconds", 30},
                     {"options", {{"system", "b"}}}};
  ASSERT_EQ(Call("POST", "/api/admin/sources", body.dump()).status, 201);
  ASSERT_EQ(AuditRowsOf("source.create").size(), 1u);

  ASSERT_TRUE(backend_->BreakInsertsInto("integration_audit").ok());
  ExpectProblem(Call("POST", "/api/admin/sources/a/pause"), 500);
  EXPECT_EQ(stored_status("a"), "ok");
  // The running engine keeps the command (the operator was told it could not be stored).
  EXPECT_EQ(engine_->Source("a")->state, engine::SourceState::kPaused);

  json update = body;
  update["intervalSeconds"] = 120;
  ExpectProblem(Call("PUT", "/api/admin/sources/b", update.dump()), 500);
  EXPECT_EQ(engine_->SourceDefinition("b")->interval, seconds(30));
  Result<std::vector<storage::ApiSourceRow>> stored = OpenStore()->ListApiSources();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().interval_ms, 30'000);

  ExpectProblem(Call("DELETE", "/api/admin/sources/b"), 500);
  stored = OpenStore()->ListApiSources();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);  // back at the next start, as it was

  json other = body;
  other["id"] = "c";
  ExpectProblem(Call("POST", "/api/admin/sources", other.dump()), 500);
  EXPECT_FALSE(engine_->Source("c").has_value());
  stored = OpenStore()->ListApiSources();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, RolesApiTest, ::testing::ValuesIn(AdminBackends()),
                         storage::testing::BackendName);

}  // namespace
}  // namespace reglo::admin
