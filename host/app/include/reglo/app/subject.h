// Data subjects' requests from the command line (issue #18): `reglo-hub subject export` and
// `subject erase`, the erasure rules written into the store at start, and the per-source
// personal-data retention the housekeeping passes apply. Functions of a loaded config; each call
// opens its own store. Not for concurrent use.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "reglo/app/config.h"
#include "reglo/core/clock.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::app {

// The options both subcommands take.
struct SubjectArgs {
  std::string company;        // --company (required)
  std::string fiscal_code;    // --cf, or:
  std::string entity;         // --entity and
  std::string external_id;    // --external-id
  std::string source_system;  // --source-system (optional with --entity)
  bool yes = false;           // erase: --yes, the confirmation
};

// The query, or a kConfigError (exit 2) naming what is missing or contradictory.
Result<storage::SubjectQuery> SubjectQueryOf(const SubjectArgs& args);

// Prints the subject's export (admin::SubjectExportJson) on `out`; exit 1 when nothing is stored
// about them.
int SubjectExportCommand(const HubConfig& config, const SubjectArgs& args, std::ostream& out,
                         std::ostream& err);
// Erases the subject (without --yes: says what it would erase and exits 2); prints the erasure's
// summary (admin::ErasureResultJson). Erasing an erased or unknown subject changes nothing and
// exits 0.
int SubjectEraseCommand(const HubConfig& config, const SubjectArgs& args, const Clock& clock,
                        std::ostream& out, std::ostream& err);

// Writes the after-erasure rule of the hub and of each config source into the store's settings,
// where checkpoints read it (storage::AfterErasureSettingKey). `sync` and `serve` call it first.
Status ApplyErasureRules(storage::AdminStore& store, const HubConfig& config, const Clock& clock);

// The personal-data retention of each config source, for storage::HousekeepPersonalData.
std::vector<std::pair<std::string, storage::PersonalDataPolicy>> PersonalDataPolicies(
    const RetentionSettings& retention);

}  // namespace reglo::app
