#include "reglo/app/keys.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "reglo/admin/access.h"
#include "reglo/app/commands.h"
#include "reglo/core/masking.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/security/master_key.h"

namespace reglo::app {
namespace {

int ExitFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kConfigError: return kExitUsage;
    default: return kExitFailure;
  }
}

int Fail(std::ostream& err, const Status& status) {
  fmt::print(err, "error: {}\n", status.ToString());
  return ExitFor(status);
}

// "10.0.0.0/8, 2001:db8::/32" or "anywhere".
std::string AllowedText(const std::string& allowed_json) {
  const nlohmann::json allowed = nlohmann::json::parse(allowed_json, nullptr, false);
  std::string text;
  if (allowed.is_array()) {
    for (const auto& cidr : allowed) {
      if (!cidr.is_string()) continue;
      if (!text.empty()) text += ",";
      text += cidr.get<std::string>();
    }
  }
  return text.empty() ? "anywhere" : text;
}

// "5/s burst 10", or "hub default".
std::string RateText(const storage::AgentKeyRow& row) {
  if (!row.rate_per_second && !row.rate_burst) return "hub default";
  return fmt::format("{}/s burst {}",
                     row.rate_per_second ? fmt::format("{}", *row.rate_per_second) : "default",
                     row.rate_burst ? std::to_string(*row.rate_burst) : "default");
}

}  // namespace

Result<std::filesystem::path> SecretsFilePath(const HubConfig& config) {
  if (!config.secrets_file.empty()) return config.secrets_file;
  const char* from_env = std::getenv("REGLO_SECRETS_FILE");
  if (from_env != nullptr && *from_env != '\0') return std::filesystem::path(from_env);
  if (!config.sqlite_path.empty() && config.sqlite_path != ":memory:") {
    return config.sqlite_path.parent_path() / "reglo-hub.key";
  }
  return Status::ConfigError(
      "secrets_file: missing (set it, or REGLO_SECRETS_FILE, to the hub master key file; with a "
      "PostgreSQL or in-memory store there is no default, and every hub instance must use the "
      "same file)");
}

Status InstallMaskingKey(const std::filesystem::path& key_file) {
  Result<security::MasterKey> master = security::MasterKey::LoadOrCreate(key_file.string());
  if (!master.ok()) return master.status();
  SetMaskingKey(master->DeriveKey(security::kMaskingKeyLabel));
  return Status::Ok();
}

Status InstallMaskingKey(const HubConfig& config) {
  Result<std::filesystem::path> path = SecretsFilePath(config);
  if (!path.ok()) return path.status();
  return InstallMaskingKey(*path);
}

int CreateAgentKey(const HubConfig& config, const std::string& company_id,
                   const std::string& source_system, const std::vector<std::string>& allowed_cidrs,
                   std::optional<double> rate_per_second, std::optional<int64_t> burst,
                   const Clock& clock, std::ostream& out, std::ostream& err) {
  Result<std::filesystem::path> path = SecretsFilePath(config);
  if (!path.ok()) return Fail(err, path.status());
  Result<security::MasterKey> master = security::MasterKey::LoadOrCreate(path->string());
  if (!master.ok()) return Fail(err, master.status());
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  ingest::AgentKeys keys(**store, *master, clock);
  Result<ingest::NewAgentKey> created = Status::Internal("not created");
  const Status audited = admin::AuditCommand(
      **store, clock, "agent-key.create", company_id + "/" + source_system,
      [&](storage::AuditRow& row) {
        created = keys.Create(company_id, source_system, allowed_cidrs, rate_per_second, burst);
        if (created.ok()) {
          row.after = nlohmann::json{{"prefix", created->row.prefix},
                                     {"allowedFrom", AllowedText(created->row.allowed_cidrs)},
                                     {"rateLimit", RateText(created->row)}}
                          .dump();
        }
        return created.status();
      });
  if (!audited.ok()) return Fail(err, audited);
  const storage::AgentKeyRow& row = created->row;
  fmt::print(out,
             "Created agent key {} for company '{}', source '{}' (allowed from: {}; rate limit: "
             "{}).\n"
             "\n"
             "  API key:        {}\n"
             "  Signing secret: {}\n"
             "\n"
             "WARNING: copy both now into the agent's configuration: they will NOT be shown "
             "again.\n"
             "The hub keeps only a hash of the API key, and the signing secret sealed with the "
             "master key file {}.\n",
             ingest::DisplayKey(row.prefix, row.last4), row.company_id, row.source_system,
             AllowedText(row.allowed_cidrs), RateText(row), created->api_key,
             created->signing_secret, path->string());
  return kExitOk;
}

int ListAgentKeys(const HubConfig& config, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  Result<std::vector<storage::AgentKeyRow>> rows = (*store)->ListAgentKeys();
  if (!rows.ok()) return Fail(err, rows.status());
  if (rows->empty()) {
    fmt::print(out,
               "No agent keys. Create one with: reglo-hub keys create --company C "
               "--source S\n");
    return kExitOk;
  }
  constexpr std::string_view kRow = "{:<26} {:<20} {:<14} {:<8} {:<25} {:<25} {:<20} {}\n";
  fmt::print(out, kRow, "KEY", "COMPANY", "SOURCE", "STATUS", "CREATED", "LAST USED", "RATE",
             "ALLOWED");
  for (const storage::AgentKeyRow& row : *rows) {
    fmt::print(out, kRow, ingest::DisplayKey(row.prefix, row.last4), row.company_id,
               row.source_system, row.status, row.created_at, row.last_used_at.value_or("never"),
               RateText(row), AllowedText(row.allowed_cidrs));
  }
  return kExitOk;
}

int RevokeAgentKey(const HubConfig& config, const std::string& prefix, const Clock& clock,
                   std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  const Status revoked = admin::AuditCommand(  // needs no master key
      **store, clock, "agent-key.revoke", prefix,
      [&](storage::AuditRow&) { return ingest::RevokeAgentKey(**store, prefix, clock); });
  if (revoked.code() == StatusCode::kNotFound) {
    // The operator named a key that is not there (or revoked already): bad usage, not a failure.
    fmt::print(err, "error: {} (see `reglo-hub keys list`)\n", revoked.message());
    return kExitUsage;
  }
  if (!revoked.ok()) return Fail(err, revoked);
  fmt::print(out, "Revoked agent key {}: agents using it are refused from now on.\n",
             std::optional<std::string>(ingest::ApiKeyPrefix(prefix)).value_or(prefix));
  return kExitOk;
}

}  // namespace reglo::app
