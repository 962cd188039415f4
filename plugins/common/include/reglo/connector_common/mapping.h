// Field mapping shared by the bundled connectors (csv, sql, http): date formats ("dd/mm/yyyy" ->
// ISO 8601), value maps ("foglio rosa" -> "learner_permit") and the per-entity FieldMapper that
// renames source fields (CSV columns, SQL columns, JSON pointers) to canonical fields. Immutable
// after construction except FieldMapper's scratch buffers.
// Thread-safety: DateFormat and ValueMap are safe to share; a FieldMapper is one thread at a time.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reglo::connector_common {

// Lowercases ASCII and the Latin-1 letters À..Þ (UTF-8), for case-insensitive matching of Italian
// values ("APERTA", "Città").
std::string FoldCase(std::string_view text);
// Without leading and trailing spaces, tabs, CR and LF.
std::string_view Trim(std::string_view text);

// A date or date-time pattern built from the tokens dd mm yyyy HH MM SS; every other character
// must appear literally ('T', punctuation and spaces only). dd mm HH MM SS accept 1 or 2 digits.
class DateFormat {
 public:
  // nullopt and *error set when the pattern is unusable.
  static std::optional<DateFormat> Parse(std::string_view pattern, std::string* error);

  // Converts `value` (surrounding blanks ignored) to "YYYY-MM-DD" or, when the pattern has a time,
  // "YYYY-MM-DDTHH:MM:SS" (seconds default to 00). False when the value does not match the
  // pattern or is not a real calendar date/time; *out is then unspecified.
  bool Apply(std::string_view value, std::string* out) const;

  const std::string& pattern() const { return pattern_; }
  bool has_time() const { return has_time_; }

 private:
  enum class Kind { kLiteral, kDay, kMonth, kYear, kHour, kMinute, kSecond };
  struct Token {
    Kind kind;
    char literal;
  };
  std::string pattern_;
  std::vector<Token> tokens_;
  bool has_time_ = false;
};

// Source value -> canonical value, matched case-insensitively and ignoring surrounding blanks.
class ValueMap {
 public:
  // False (and *error names the clashing keys) when two keys fold to the same text with different
  // targets.
  bool Add(std::string_view from, std::string_view to, std::string* error);
  // The canonical value, or nullopt when `value` has no entry (it is then passed on unchanged).
  // `scratch` holds the folded key, so a caller on a hot path can reuse one buffer. (Not a
  // thread_local: that would keep a dlopen'ed plugin loaded until every thread that used it exits.)
  std::optional<std::string_view> Find(std::string_view value, std::string& scratch) const;
  std::optional<std::string_view> Find(std::string_view value) const {
    std::string scratch;
    return Find(value, scratch);
  }
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<std::string, std::pair<std::string, std::string>> map_;  // folded -> (key, to)
};

// How one entity's source fields become canonical fields. Built from the entity's configuration.
struct EntityMapping {
  std::string id_column;
  std::string updated_at_column;                             // empty: none
  std::vector<std::pair<std::string, std::string>> columns;  // source field -> output field
  std::vector<std::pair<std::string, DateFormat>> formats;   // output field -> format
  std::vector<std::pair<std::string, ValueMap>> values;      // output field -> value map
};

struct InField {
  std::string_view name;
  std::optional<std::string_view> value;  // nullopt: absent
};
struct OutField {
  std::string_view name;
  std::optional<std::string_view> value;
};

class FieldMapper {
 public:
  // Keeps pointers into `mapping`, which must outlive the mapper and not change.
  explicit FieldMapper(const EntityMapping& mapping);

  // Maps source fields to output fields, in source order: renamed when listed in `columns`
  // (matched case-insensitively), the id / updated_at columns dropped unless listed, all other
  // columns passed through under their own name; then the output field's format and value map
  // apply. The output views point into `in`, the mapping, or this mapper (valid until the next
  // call).
  void Map(std::span<const InField> in, std::vector<OutField>* out);

  // The output field's date format, or nullptr.
  const DateFormat* FormatFor(std::string_view output_field) const;

 private:
  struct Rule {
    const std::string* output = nullptr;  // nullptr: dropped
  };
  // What to do with the field at one position, resolved once per distinct header: records of one
  // file all carry the same names, so the per-field case folding and lookups happen once.
  struct Step {
    std::string source_name;
    bool dropped = false;
    std::string_view output;
    const DateFormat* format = nullptr;
    const ValueMap* values = nullptr;
  };
  const Rule* FindRule(std::string_view column);
  void Plan(std::span<const InField> in);

  std::unordered_map<std::string, Rule> rules_;  // folded source field name -> rule
  std::unordered_map<std::string_view, const DateFormat*> formats_;
  std::unordered_map<std::string_view, const ValueMap*> values_;
  std::vector<Step> plan_;
  std::string fold_scratch_;
  std::vector<std::string> converted_;  // one slot per input field, reused across calls
};

}  // namespace reglo::connector_common
