#include "reglo/model/events.h"

#include <fmt/format.h>

#include "reglo/core/crypto.h"
#include "reglo/core/json_writer.h"

namespace reglo::model {

namespace {
constexpr std::string_view kCreatedSuffix = ".created";
constexpr std::string_view kUpdatedSuffix = ".updated";
constexpr std::string_view kStatusChangedSuffix = ".status_changed";

std::string EventType(std::string_view entity, std::string_view suffix) {
  std::string type(entity);
  type += suffix;
  return type;
}
}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCreated: return "created";
    case Outcome::kUpdated: return "updated";
    case Outcome::kUnchanged: return "unchanged";
    case Outcome::kStale: return "stale";
  }
  return "unknown";
}

Decision Reconcile(const CanonicalRecord& incoming, const StoredState* stored) {
  Decision decision;
  if (stored == nullptr) {
    decision.outcome = Outcome::kCreated;
    decision.version = 1;
    return decision;
  }
  decision.version = stored->version;
  // Timestamps are normalised to one fixed-width UTC format, so text order is time order.
  if (incoming.source_updated_at && stored->source_updated_at &&
      *incoming.source_updated_at < *stored->source_updated_at) {
    decision.outcome = Outcome::kStale;
    return decision;
  }
  if (incoming.content_hash == stored->content_hash) {
    decision.outcome = Outcome::kUnchanged;
    return decision;
  }
  decision.outcome = Outcome::kUpdated;
  decision.version = stored->version + 1;
  const EntitySpec& entity = *incoming.entity;
  for (size_t i = 0; i < entity.fields.size(); ++i) {
    const std::optional<std::string>& before =
        i < stored->values.size() ? stored->values[i] : std::nullopt;
    if (before != incoming.values[i]) {
      decision.changed_fields.emplace_back(entity.fields[i].name);
      if (entity.status_field && entity.fields[i].name == *entity.status_field) {
        decision.status_changed = true;
        decision.status_from = before;
        decision.status_to = incoming.values[i];
      }
    }
  }
  // Extra fields: both lists are sorted by name, so walk them together.
  size_t a = 0;
  size_t b = 0;
  const auto& old_extra = stored->extra;
  const auto& new_extra = incoming.extra;
  while (a < old_extra.size() || b < new_extra.size()) {
    if (b == new_extra.size() ||
        (a < old_extra.size() && old_extra[a].first < new_extra[b].first)) {
      decision.changed_fields.push_back("extra." + old_extra[a++].first);
    } else if (a == old_extra.size() || new_extra[b].first < old_extra[a].first) {
      decision.changed_fields.push_back("extra." + new_extra[b++].first);
    } else {
      if (old_extra[a].second != new_extra[b].second) {
        decision.changed_fields.push_back("extra." + new_extra[b].first);
      }
      ++a;
      ++b;
    }
  }
  return decision;
}

std::string EventId(const RecordKey& key, std::string_view entity, int64_t version,
                    std::string_view type) {
  // Length-prefixed so that no two different identities can produce the same name.
  std::string name;
  name.reserve(key.company_id.size() + key.source_system.size() + entity.size() +
               key.external_id.size() + type.size() + 48);
  for (std::string_view part :
       {std::string_view(key.company_id), std::string_view(key.source_system), entity,
        std::string_view(key.external_id)}) {
    name += std::to_string(part.size());
    name += ':';
    name += part;
    name += '|';
  }
  name += std::to_string(version);
  name += '|';
  name += type;
  return DeterministicUuid(name);
}

std::string EventIdOf(const EventRecord& event) {
  return EventId({event.company_id, event.source_system, event.external_id}, event.entity,
                 event.version, event.type);
}

namespace {

// The events' `data` member of `record` with the decision's parts left out (see
// CanonicalRecord::EventDataTemplate): {"entity":…,"externalId":…,"version":<version>
// ,"sourceUpdatedAt":…,"changedFields":[<changed fields>],"statusChange":…,"record":{…}}
CanonicalRecord::EventDataTemplate MakeEventDataTemplate(const CanonicalRecord& record) {
  CanonicalRecord::EventDataTemplate part;
  std::string text;
  AppendEventDataHead(text, record.entity->name, record.key.company_id, record.key.source_system,
                      record.key.external_id);
  part.version_at = text.size();
  if (record.source_updated_at) {
    text += ",\"sourceUpdatedAt\":";
    AppendJsonString(text, *record.source_updated_at);
  }
  text += ",\"changedFields\":[";
  part.changes_at = text.size();
  text += ",\"record\":";
  AppendRecordJson(text, *record.entity, record.values, record.extra);
  text += '}';
  part.text = std::move(text);
  return part;
}

std::string MakeData(const CanonicalRecord& record, const Decision& decision) {
  CanonicalRecord::EventDataTemplate made;
  const CanonicalRecord::EventDataTemplate& part = record.event_template.text.empty()
                                                       ? (made = MakeEventDataTemplate(record))
                                                       : record.event_template;
  std::string data;
  data.reserve(part.text.size() + 64);
  data.append(part.text, 0, part.version_at);
  data += std::to_string(decision.version);
  data.append(part.text, part.version_at, part.changes_at - part.version_at);
  for (size_t i = 0; i < decision.changed_fields.size(); ++i) {
    if (i > 0) data += ',';
    AppendJsonString(data, decision.changed_fields[i]);
  }
  data += ']';
  if (decision.status_changed) {
    data += ",\"statusChange\":{\"from\":";
    decision.status_from ? AppendJsonString(data, *decision.status_from) : void(data += "null");
    data += ",\"to\":";
    decision.status_to ? AppendJsonString(data, *decision.status_to) : void(data += "null");
    data += '}';
  }
  data.append(part.text, part.changes_at, std::string::npos);
  return data;
}

EventRecord MakeEvent(const CanonicalRecord& record, const Decision& decision, std::string type,
                      std::string_view time) {
  EventRecord event;
  event.type = std::move(type);
  event.company_id = record.key.company_id;
  event.source_system = record.key.source_system;
  event.entity = std::string(record.entity->name);
  event.external_id = record.key.external_id;
  event.version = decision.version;
  event.time = std::string(time);
  event.data = MakeData(record, decision);
  return event;
}

// Appends `segment` percent-encoded as one RFC 3986 path segment: the unreserved characters
// (ALPHA DIGIT - . _ ~) stay, every other byte (space, '/', '%', each byte of UTF-8) becomes %XX.
// Company and source ids may hold any text, and CloudEvents requires `source` to be a
// URI-reference.
void AppendPathSegment(std::string& out, std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
}

}  // namespace

std::string CloudEventSource(std::string_view company_id, std::string_view source_system) {
  std::string source = "/companies/";
  AppendPathSegment(source, company_id);
  source += "/sources/";
  AppendPathSegment(source, source_system);
  return source;
}

std::string CloudEventJson(const EventRecord& event) {
  // No personal data in context attributes: ids, entity names and the source path only.
  JsonWriter writer;
  writer.BeginObject();
  writer.Key("specversion").String("1.0");
  writer.Key("id").String(event.event_id);
  writer.Key("source").String(CloudEventSource(event.company_id, event.source_system));
  writer.Key("type").String(event.type);
  writer.Key("subject").String(event.entity + "/" + event.external_id);
  writer.Key("time").String(event.time);
  writer.Key("datacontenttype").String("application/json");
  writer.Key("data").Raw(event.data);
  writer.EndObject();
  return writer.Take();
}

void PrepareEventData(CanonicalRecord& record) {
  record.event_template = MakeEventDataTemplate(record);
}

void AppendEventDataHead(std::string& out, std::string_view entity, std::string_view company_id,
                         std::string_view source_system, std::string_view external_id) {
  // The keys as literals, not through JsonWriter: this runs for every event built and every
  // event stored or read, and escaping constant keys was most of its cost (callgrind).
  out += R"({"entity":)";
  AppendJsonString(out, entity);
  out += R"(,"companyId":)";
  AppendJsonString(out, company_id);
  out += R"(,"sourceSystem":)";
  AppendJsonString(out, source_system);
  out += R"(,"externalId":)";
  AppendJsonString(out, external_id);
  out += R"(,"version":)";
}

std::vector<std::string> EventTypesOf(std::string_view entity) {
  return {EventType(entity, kCreatedSuffix), EventType(entity, kUpdatedSuffix),
          EventType(entity, kStatusChangedSuffix)};
}

std::vector<EventRecord> BuildEvents(const CanonicalRecord& record, const Decision& decision,
                                     std::string_view time) {
  std::vector<EventRecord> events;
  const std::string_view entity = record.entity->name;
  switch (decision.outcome) {
    case Outcome::kCreated:
      events.push_back(MakeEvent(record, decision, EventType(entity, kCreatedSuffix), time));
      break;
    case Outcome::kUpdated:
      events.push_back(MakeEvent(record, decision, EventType(entity, kUpdatedSuffix), time));
      if (decision.status_changed) {
        events.push_back(
            MakeEvent(record, decision, EventType(entity, kStatusChangedSuffix), time));
      }
      break;
    case Outcome::kUnchanged:
    case Outcome::kStale: break;
  }
  return events;
}

}  // namespace reglo::model
