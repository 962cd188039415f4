// EventKinds (event_kinds.h): the kinds of the outbox's events and their ids.
#include "reglo/storage/event_kinds.h"

#include <fmt/format.h>

namespace reglo::storage {
namespace {

// Length-prefixed, so no two different kinds share a key.
std::string KindKey(std::string_view type, std::string_view company_id,
                    std::string_view source_system) {
  return fmt::format("{}:{}|{}:{}|{}", type.size(), type, company_id.size(), company_id,
                     source_system);
}

// A kind's unique identity is (company_id, source_system, type): the type names its entity.
const std::string kInsertKindsSql =
    "INSERT INTO integration_event_kinds (type, company_id, source_system, entity) VALUES "
    "($1, $4, $5, $6), ($2, $4, $5, $6), ($3, $4, $5, $6) "
    "ON CONFLICT (company_id, source_system, type) DO NOTHING";
const std::string kInsertKindSql =
    "INSERT INTO integration_event_kinds (type, company_id, source_system, entity) VALUES "
    "($1, $2, $3, $4) ON CONFLICT (company_id, source_system, type) DO NOTHING";

}  // namespace

Status EventKinds::Prepare(SqlSession& sql, const std::vector<model::CanonicalRecord>& records) {
  const model::CanonicalRecord* previous = nullptr;
  for (const model::CanonicalRecord& record : records) {
    // A batch holds one entity, company and source, a handful at most: compare with the last.
    if (previous != nullptr && previous->entity == record.entity &&
        previous->key.company_id == record.key.company_id &&
        previous->key.source_system == record.key.source_system) {
      continue;
    }
    previous = &record;
    const std::vector<std::string> types = model::EventTypesOf(record.entity->name);
    if (ids_.count(KindKey(types.front(), record.key.company_id, record.key.source_system)) > 0) {
      continue;  // its types are inserted and read together
    }
    const std::string entity(record.entity->name);
    REGLO_RETURN_IF_ERROR(
        sql.Execute(kInsertKindsSql, {types[0], types[1], types[2], record.key.company_id,
                                      record.key.source_system, entity})
            .status());
    REGLO_RETURN_IF_ERROR(sql.Query(
        "SELECT id, type FROM integration_event_kinds WHERE company_id = $1 AND "
        "source_system = $2 AND entity = $3",
        {record.key.company_id, record.key.source_system, entity}, [&](RowCursor& rows) -> Status {
          for (;;) {
            REGLO_ASSIGN_OR_RETURN(row, rows.Step());
            if (!row) return Status::Ok();
            ids_[KindKey(rows.Text(1), record.key.company_id, record.key.source_system)] =
                rows.Int(0);
          }
        }));
  }
  return Status::Ok();
}

Result<int64_t> EventKinds::IdOf(const model::EventRecord& event) {
  if (last_id_ != 0 && event.type == last_type_ && event.company_id == last_company_ &&
      event.source_system == last_source_) {
    return last_id_;
  }
  auto it = ids_.find(KindKey(event.type, event.company_id, event.source_system));
  if (it == ids_.end()) {
    return Status::Internal(fmt::format("event type {} has no kind prepared", event.type));
  }
  last_type_ = event.type;
  last_company_ = event.company_id;
  last_source_ = event.source_system;
  last_id_ = it->second;
  return last_id_;
}

Result<int64_t> EventKindIn(SqlSession& sql, std::string_view type, std::string_view company_id,
                            std::string_view source_system, std::string_view entity) {
  const std::string type_text(type), company(company_id), source(source_system);
  REGLO_RETURN_IF_ERROR(
      sql.Execute(kInsertKindSql, {type_text, company, source, std::string(entity)}).status());
  int64_t id = 0;
  REGLO_RETURN_IF_ERROR(sql.Query(
      "SELECT id FROM integration_event_kinds WHERE company_id = $1 AND source_system = $2 AND "
      "type = $3",
      {company, source, type_text}, [&id](RowCursor& rows) -> Status {
        REGLO_ASSIGN_OR_RETURN(found, ReadInt(rows));
        id = found;
        return Status::Ok();
      }));
  if (id == 0) return Status::Internal("an event kind was inserted but cannot be read");
  return id;
}

}  // namespace reglo::storage
