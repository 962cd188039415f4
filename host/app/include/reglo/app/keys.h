// The `reglo-hub keys` commands (create, list, revoke): agent API keys for the ingestion API
// (DESIGN §8). Functions of a loaded config, like commands.h, so tests can drive them. Nothing
// secret reaches `err` or the logs: keys appear as rgk_<prefix>_...<last4>; `create` prints the
// API key and signing secret once, on `out`. Each call is independent; not for concurrent use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "reglo/app/config.h"
#include "reglo/core/clock.h"
#include "reglo/core/status.h"

namespace reglo::app {

// The hub master key file: the config's "secrets_file", else $REGLO_SECRETS_FILE, else
// "reglo-hub.key" next to a SQLite store's file. A PostgreSQL store has no default (every hub
// instance sharing the database must use the same key file): kConfigError naming the key.
Result<std::filesystem::path> SecretsFilePath(const HubConfig& config);

// Sets the key of HashFiscalCode (core/masking.h) from the master key file at `key_file`
// (MasterKey::DeriveKey(kMaskingKeyLabel)), creating the file as `keys create` does when it does
// not exist, so every command and every instance sharing the file hashes a codice fiscale the same
// way. Every command that masks calls it before it logs anything; an error stops the command.
Status InstallMaskingKey(const std::filesystem::path& key_file);
// The same with the hub's key file (SecretsFilePath).
Status InstallMaskingKey(const HubConfig& config);

// `rate_per_second` / `burst`: the key's own ingest rate limit (nullopt: the hub's default).
int CreateAgentKey(const HubConfig& config, const std::string& company_id,
                   const std::string& source_system, const std::vector<std::string>& allowed_cidrs,
                   std::optional<double> rate_per_second, std::optional<int64_t> burst,
                   const Clock& clock, std::ostream& out, std::ostream& err);
int ListAgentKeys(const HubConfig& config, std::ostream& out, std::ostream& err);
int RevokeAgentKey(const HubConfig& config, const std::string& prefix, const Clock& clock,
                   std::ostream& out, std::ostream& err);

}  // namespace reglo::app
