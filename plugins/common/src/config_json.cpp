#include "reglo/connector_common/config_json.h"

#include <map>

namespace reglo::connector_common {

using nlohmann::json;

void Fail(const std::string& key, const std::string& what) {
  throw ConfigError{key + ": " + what};
}

std::string TypeName(const json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  const std::string name = value.type_name();
  return (name == "object" || name == "array") ? "an " + name : "a " + name;
}

std::string KeyPath(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

bool IsCommentKey(const std::string& key) {
  return !key.empty() && (key.front() == '_' || key.front() == '$');
}

void CheckKeys(const json& object, const std::string& prefix,
               std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (IsCommentKey(key)) continue;
    bool found = false;
    std::string list;
    for (std::string_view name : known) {
      found = found || key == name;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    if (!found) Fail(KeyPath(prefix, key), "unknown key (expected " + list + ")");
  }
}

std::string GetString(const json& object, const std::string& prefix, const char* key, bool required,
                      const std::string& what) {
  auto it = object.find(key);
  const std::string path = KeyPath(prefix, key);
  if (it == object.end()) {
    if (required) Fail(path, "required (" + what + ")");
    return {};
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    Fail(path, "expected a non-empty string (" + what + "), got " +
                   (it->is_string() ? "an empty string" : TypeName(*it)));
  }
  return it->get<std::string>();
}

uint64_t ParseUnsigned(const json& object, const std::string& prefix, const char* key,
                       uint64_t fallback, uint64_t min, uint64_t max) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const bool whole =
      it->is_number_integer() && (it->is_number_unsigned() || it->get<int64_t>() >= 0);
  if (!whole || it->get<uint64_t>() < min || it->get<uint64_t>() > max) {
    Fail(KeyPath(prefix, key), "expected a whole number from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", got " + it->dump());
  }
  return it->get<uint64_t>();
}

bool GetBool(const json& object, const std::string& prefix, const char* key, bool fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_boolean()) Fail(KeyPath(prefix, key), "expected true or false, got " + TypeName(*it));
  return it->get<bool>();
}

namespace {

bool Contains(const std::vector<std::string_view>& list, std::string_view name) {
  for (std::string_view item : list) {
    if (item == name) return true;
  }
  return false;
}

}  // namespace

void ParseFieldRules(const json& spec, const std::string& prefix, std::string_view entity,
                     const ColumnsSyntax& syntax, EntityMapping* mapping,
                     std::vector<std::string>* remarks) {
  const std::vector<std::string_view>* canonical = CanonicalFields(entity);
  if (auto it = spec.find("columns"); it != spec.end()) {
    const std::string key = prefix + ".columns";
    if (!it->is_object()) {
      Fail(key,
           std::string("expected an object of ") + syntax.source_field + " -> canonical field");
    }
    std::map<std::string, std::string> by_folded_column;  // folded column -> column
    std::map<std::string, std::string> by_field;          // field -> column
    for (const auto& [column, field] : it->items()) {
      if (!field.is_string() || field.get_ref<const std::string&>().empty()) {
        Fail(key + "." + column, "expected the name of a canonical field, got " +
                                     (field.is_string() ? "an empty string" : TypeName(field)));
      }
      const std::string target = field.get<std::string>();
      if (target == "externalId" || target == "sourceUpdatedAt") {
        Fail(key + "." + column,
             "'" + target + "' is set with " +
                 (target == "externalId" ? syntax.id_key : syntax.updated_at_key));
      }
      if (auto [other, fresh] = by_folded_column.try_emplace(FoldCase(column), column); !fresh) {
        Fail(key + "." + column,
             "same column as '" + other->second + "' (column names match case-insensitively)");
      }
      if (auto [other, fresh] = by_field.try_emplace(target, column); !fresh) {
        Fail(key + "." + column, "'" + other->second + "' already maps to " + target);
      }
      if (canonical != nullptr && !Contains(*canonical, target)) {
        remarks->push_back(key + "." + column + ": '" + target + "' is not a canonical " +
                           std::string(entity) + " field; it will be kept as an extra field");
      }
      mapping->columns.emplace_back(column, target);
    }
  }

  if (auto it = spec.find("formats"); it != spec.end()) {
    const std::string key = prefix + ".formats";
    if (!it->is_object()) Fail(key, "expected an object of field -> date format");
    for (const auto& [field, pattern] : it->items()) {
      if (!pattern.is_string()) {
        Fail(key + "." + field,
             "expected a date format such as \"dd/mm/yyyy\", got " + TypeName(pattern));
      }
      std::string error;
      auto format = DateFormat::Parse(pattern.get<std::string>(), &error);
      if (!format) Fail(key + "." + field, error);
      mapping->formats.emplace_back(field, std::move(*format));
    }
  }

  if (auto it = spec.find("values"); it != spec.end()) {
    const std::string key = prefix + ".values";
    if (!it->is_object())
      Fail(key, "expected an object of field -> {source value: canonical value}");
    for (const auto& [field, table] : it->items()) {
      if (!table.is_object()) {
        Fail(key + "." + field,
             "expected an object of source value -> canonical value, got " + TypeName(table));
      }
      ValueMap values;
      for (const auto& [from, to] : table.items()) {
        if (!to.is_string()) {
          Fail(key + "." + field + "." + from, "expected a string, got " + TypeName(to));
        }
        std::string error;
        if (!values.Add(from, to.get_ref<const std::string&>(), &error)) {
          Fail(key + "." + field, error);
        }
      }
      mapping->values.emplace_back(field, std::move(values));
    }
  }
}

const std::vector<std::string_view>& CanonicalEntities() {
  static const std::vector<std::string_view> entities(kCanonicalEntities.begin(),
                                                      kCanonicalEntities.end());
  return entities;
}

const std::vector<std::string_view>* CanonicalFields(std::string_view entity) {
  static const std::map<std::string_view, std::vector<std::string_view>> fields = {
      {"student", {"firstName", "lastName", "fiscalCode", "birthDate", "email", "phone"}},
      {"case", {"studentExternalId", "licenseCategory", "status", "openedAt"}},
      {"appointment",
       {"kind", "startsAt", "endsAt", "studentExternalId", "caseExternalId", "instructorExternalId",
        "vehicleExternalId", "status"}},
      {"document", {"ownerEntity", "ownerExternalId", "kind", "number", "issuedAt", "expiresAt"}},
      {"payment",
       {"studentExternalId", "caseExternalId", "amountCents", "currency", "paidAt", "method",
        "status"}},
      {"instructor",
       {"firstName", "lastName", "fiscalCode", "licenseCategories", "email", "phone", "active"}},
      {"vehicle", {"plate", "make", "model", "licenseCategory", "transmission", "active"}},
  };
  auto it = fields.find(entity);
  return it == fields.end() ? nullptr : &it->second;
}

std::string CanonicalEntityList() {
  std::string list;
  for (std::string_view name : CanonicalEntities())
    list += (list.empty() ? "" : ", ") + std::string(name);
  return list;
}

}  // namespace reglo::connector_common
