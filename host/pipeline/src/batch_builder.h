// BatchBuilder: collects what a pull (or an agent's push) delivers between two commits: mapped,
// validated records with their warnings, deduplicated within the batch, and rejections. Internal
// to the pipeline; shared by sync.cpp (local pulls) and push.cpp (agents' pushes), so both go
// through exactly the same validation and dedup. One thread at a time.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "reglo/core/masking.h"
#include "reglo/core/text.h"
#include "reglo/model/validation.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/rows.h"
#include "source_hashes.h"

namespace reglo::pipeline {

// Reads a plugin's canonical record in place (no copy); valid while `canonical` is.
model::RawRecordView ViewOf(const reglo_record& canonical, const storage::SourceRow& source,
                            std::vector<model::RawField>& fields);

// Collects what a pull delivers between two commits: mapped, validated, deduplicated records.
class BatchBuilder {
 public:
  // `connector` maps source records (Add); nullptr when records arrive canonical already (an
  // agent's push: AddCanonical only).
  BatchBuilder(const storage::SourceRow& source, plugin_host::ConnectorInstance* connector)
      : source_(source), connector_(connector) {}

  // Where AddCanonical put a record.
  struct Placement {
    enum Kind {
      kRecord,      // records()[index]; it replaced an earlier record of the same identity, if any
      kRejected,    // rejections()[index]
      kSuperseded,  // a record of the same identity with a later sourceUpdatedAt is kept instead
    };
    Kind kind = kRecord;
    size_t index = 0;
    std::vector<std::string> warnings;  // the record's own warnings (only with keep_warnings)
  };

  // Rows of `hashes`' entity whose source hash matches the stored record's are counted unchanged
  // without being mapped; the others carry their hash to the store when it may be kept.
  void set_source_hashes(SourceHashes* hashes) { hashes_ = hashes; }

  // Maps one source record and adds the canonical records it yields.
  Status Add(const reglo_record& source_record) {
    ++batch_.seen;
    std::optional<int64_t> row_hash;
    if (hashes_ != nullptr && hashes_->Covers(source_record)) {
      const SourceHashes::Key key = hashes_->KeyFor(source_record.external_id);
      row_hash = hashes_->RowHash(source_record);
      if (hashes_->Unchanged(key, *row_hash)) {
        // Mapping it again would yield the stored record: the commit would find it unchanged.
        ++batch_.unchanged;
        storage::RunCounters& entity = EntityCounters(hashes_->entity().name);
        ++entity.seen;
        ++entity.unchanged;
        return Status::Ok();
      }
      hashes_->Forget(key);
    }
    int yielded = 0;
    Placement placement;
    Status mapped = connector_->MapToCanonical(
        source_record, [this, &yielded, &placement](const reglo_record& canonical) {
          ++yielded;
          placement = AddCanonical(ViewOf(canonical, source_, fields_));
          return Status::Ok();
        });
    if (mapped.ok() && row_hash && yielded == 1 && placement.kind == Placement::kRecord) {
      // Kept only when mapping the row again is sure to yield this record: one record of the
      // row's own identity, and no warning (a skipped row would not raise them again).
      model::CanonicalRecord& record = batch_.records[placement.index];
      if (record.entity == &hashes_->entity() && record.warnings.empty() &&
          record.key.external_id == source_record.external_id) {
        record.source_hash = row_hash;
      }
    }
    if (!mapped.ok()) {
      // One record the connector cannot map is a dead letter, not the end of the pull.
      model::Rejection rejection;
      rejection.entity = source_record.entity ? source_record.entity : "";
      rejection.key = {source_.company_id, source_.source_system,
                       source_record.external_id ? source_record.external_id : ""};
      rejection.origin = source_record.origin ? source_record.origin : "";
      rejection.reason = MaskPersonalData(mapped.message());
      rejection.stage = "map";
      AddRejection(std::move(rejection));
    }
    return Status::Ok();
  }

  // Validates a canonical-shaped record and adds it (or its rejection); `keep_warnings` copies
  // its warnings into the placement.
  Placement AddCanonical(const model::RawRecordView& raw, bool keep_warnings = false) {
    Placement placement;
    std::variant<model::CanonicalRecord, model::Rejection> result = model::Validate(raw);
    if (auto* rejection = std::get_if<model::Rejection>(&result)) {
      placement.kind = Placement::kRejected;
      placement.index = batch_.rejections.size();
      AddRejection(std::move(*rejection));
      return placement;
    }
    model::CanonicalRecord record = std::move(std::get<model::CanonicalRecord>(result));
    if (keep_warnings) placement.warnings = record.warnings;
    for (const std::string& warning : record.warnings) {
      Log(storage::LogLevel::kWarn,
          record.origin.empty() ? warning : fmt::format("{}: {}", Excerpt(record.origin), warning));
    }
    batch_.warnings += static_cast<int64_t>(record.warnings.size());
    // Counted here, before duplicates collapse: a record replaced by a later one of the same
    // identity was still seen, and its warnings were still raised.
    storage::RunCounters& entity = EntityCounters(record.entity->name);
    ++entity.seen;
    entity.warnings += static_cast<int64_t>(record.warnings.size());
    // Duplicates inside one batch collapse to one write: the latest sourceUpdatedAt wins, and
    // between equal (or absent) timestamps the later record wins.
    std::string key(record.entity->name);
    key += '\x1f';
    key += record.key.external_id;
    auto [it, inserted] = index_.try_emplace(std::move(key), batch_.records.size());
    placement.index = it->second;
    if (inserted) {
      batch_.records.push_back(std::move(record));
      return placement;
    }
    model::CanonicalRecord& kept = batch_.records[it->second];
    const bool older = record.source_updated_at && kept.source_updated_at &&
                       *record.source_updated_at < *kept.source_updated_at;
    if (older) {
      placement.kind = Placement::kSuperseded;
    } else {
      kept = std::move(record);
    }
    return placement;
  }

  // Counts one record delivered without going through Add (AddCanonical does not count).
  void CountSeen() { ++batch_.seen; }

  void AddRejection(model::Rejection rejection) {
    // Everything a dead letter keeps is input: control characters and bytes that are not UTF-8
    // written out (so any store can hold them, and they print safely), the reason masked.
    for (std::string* text : {&rejection.entity, &rejection.origin, &rejection.key.company_id,
                              &rejection.key.source_system, &rejection.key.external_id}) {
      if (HasControlCharacters(*text)) *text = EscapeControlCharacters(*text);
    }
    rejection.reason = MaskPersonalData(rejection.reason);
    // The entity and origin are input (an unknown entity may be any string): echoed cut short.
    ++EntityCounters(rejection.entity).rejected;
    Log(storage::LogLevel::kWarn,
        fmt::format("{}rejected {} record: {}",
                    rejection.origin.empty() ? "" : Excerpt(rejection.origin) + ": ",
                    rejection.entity.empty() ? "a" : Excerpt(rejection.entity), rejection.reason));
    batch_.rejections.push_back(std::move(rejection));
  }

  // A warning about the source's data rather than one record; `entity` (when the stream is one
  // canonical entity) is where the run report counts it.
  void AddWarning(std::string_view origin, std::string_view message, std::string_view entity = {}) {
    ++batch_.warnings;
    if (!entity.empty()) ++EntityCounters(entity).warnings;
    Log(storage::LogLevel::kWarn,
        origin.empty() ? std::string(message) : fmt::format("{}: {}", Excerpt(origin), message));
  }

  void Log(storage::LogLevel level, const std::string& message) {
    if (log_budget_ == 0) {
      ++suppressed_lines_;
      return;
    }
    --log_budget_;
    batch_.log_lines.push_back({"", level, MaskPersonalData(message)});
  }

  size_t size() const { return batch_.records.size() + batch_.rejections.size(); }
  bool empty() const {
    return batch_.seen == 0 && batch_.log_lines.empty() && batch_.warnings == 0;
  }
  void set_log_budget(size_t budget) { log_budget_ = budget; }
  size_t log_budget() const { return log_budget_; }
  int64_t suppressed_lines() const { return suppressed_lines_; }

  // Hands the collected batch over and starts a new one.
  storage::CheckpointBatch Take() {
    storage::CheckpointBatch batch = std::move(batch_);
    batch_ = storage::CheckpointBatch{};
    index_.clear();
    return batch;
  }

 private:
  storage::RunCounters& EntityCounters(std::string_view entity) {
    auto it = batch_.by_entity.find(entity);
    if (it == batch_.by_entity.end())
      it = batch_.by_entity.emplace(entity, storage::RunCounters{}).first;
    return it->second;
  }

  const storage::SourceRow& source_;
  plugin_host::ConnectorInstance* connector_;
  storage::CheckpointBatch batch_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<model::RawField> fields_;  // reused for every record's view
  SourceHashes* hashes_ = nullptr;       // the stream's stored source hashes, when it has them
  size_t log_budget_ = 1000;
  int64_t suppressed_lines_ = 0;
};

}  // namespace reglo::pipeline
