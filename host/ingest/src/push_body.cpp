#include "reglo/ingest/push_body.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "reglo/core/text.h"
#include "reglo/model/validation.h"

namespace reglo::ingest {
namespace {

using json = nlohmann::json;

// The members of a record that are not fields: strings only (or, for sourceUpdatedAt, null).
bool IsReservedMember(std::string_view name) {
  return name == "entity" || name == "externalId" || name == "sourceUpdatedAt" ||
         name == "companyId" || name == "sourceSystem";
}

// The record members that make its identity: no control character at all (they end up in keys,
// logs, event sources and file names).
bool IsIdentityMember(std::string_view name) {
  return name == "entity" || name == "externalId" || name == "companyId" || name == "sourceSystem";
}

// Builds the PushBody while nlohmann's parser walks the text (no DOM: one pass, bounded memory).
// Every callback returning false stops the parse; `error` then says why.
class Handler final : public nlohmann::json_sax<json> {
 public:
  explicit Handler(const PushLimits& limits) : limits_(limits) {}

  bool null() override {
    if (Nested()) return NestedScalar("null");
    return Scalar(std::nullopt, "null");
  }
  bool boolean(bool value) override {
    if (Nested()) return NestedScalar(value ? "true" : "false");
    return Scalar(std::string(value ? "true" : "false"), "b");
  }
  bool number_integer(number_integer_t value) override {
    if (Nested()) return NestedScalar(std::to_string(value));
    return Scalar(std::to_string(value), "number");
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (Nested()) return NestedScalar(std::to_string(value));
    return Scalar(std::to_string(value), "number");
  }
  bool number_float(number_float_t, const string_t& text) override {
    if (Nested()) return NestedScalar(text);
    return Scalar(text, "number");
  }
  bool string(string_t& value) override {
    if (!CheckLength(value)) return false;
    // NUL can be neither stored faithfully (PostgreSQL text refuses it, C strings end at it) nor
    // told apart from the end of an identifier: refused in every value of a push.
    if (value.find('\0') != string_t::npos) {
      return Fail("invalid-body", fmt::format("{}: NUL (\\u0000) is not allowed", Where()));
    }
    if (Nested()) return NestedScalar(json(value).dump());
    return Scalar(std::move(value), "string");
  }
  bool binary(binary_t&) override { return Fail("malformed-json", "binary values"); }

  bool start_object(std::size_t) override {
    if (!Enter()) return false;
    if (depth_ == 1) {
      frames_.push_back({});
      return true;
    }
    if (depth_ == 3 && InData()) {
      if (body_.records.size() >= limits_.max_records) {
        return Fail("too-many-records",
                    fmt::format("a request may carry at most {} records", limits_.max_records));
      }
      model::RawRecord& record = body_.records.emplace_back();
      record.origin = fmt::format("data[{}]", body_.records.size() - 1);
      frames_.push_back({});
      record_fields_ = 0;
      return true;
    }
    if (depth_ >= 4 && InData()) return OpenNested('{');
    return Fail("invalid-body",
                fmt::format("{}: expected a string, number, boolean or null", Where()));
  }
  bool end_object() override {
    if (depth_ >= 4 && InData()) return CloseNested('}');
    --depth_;
    if (!frames_.empty()) frames_.pop_back();
    if (depth_ == 0) done_ = true;
    return true;
  }
  bool start_array(std::size_t) override {
    if (!Enter()) return false;
    if (depth_ == 2 && key_ == "data") {
      in_data_ = true;
      seen_data_ = true;
      return true;
    }
    if (depth_ >= 4 && InData()) return OpenNested('[');
    return Fail("invalid-body", depth_ == 1
                                    ? std::string("the body must be a JSON object")
                                    : fmt::format("{}: a record must be a JSON object", Where()));
  }
  bool end_array() override {
    if (depth_ >= 4 && InData()) return CloseNested(']');
    --depth_;
    if (depth_ == 1) in_data_ = false;
    return true;
  }

  bool key(string_t& value) override {
    if (!CheckLength(value)) return false;
    // The object the member is in, for messages (made only when one is needed).
    const auto object = [this] {
      return depth_ == 1   ? std::string("the body")
             : depth_ == 3 ? fmt::format("data[{}]", body_.records.size() - 1)
                           : Where();
    };
    if (value.find('\0') != string_t::npos) {
      return Fail(
          "invalid-body",
          fmt::format("{}: a member name holds NUL (\\u0000), which is not allowed", object()));
    }
    // One hash lookup per member: the check stays linear in the size of the body.
    if (!frames_.back().insert(value).second) {
      return Fail("duplicate-json-key",
                  fmt::format("{}: the member \"{}\" appears twice", object(), Printable(value)));
    }
    if (depth_ == 3 && InData() && !IsReservedMember(value) &&
        ++record_fields_ > limits_.max_fields_per_record) {
      return Fail("too-many-fields", fmt::format("{}: a record may have at most {} fields",
                                                 object(), limits_.max_fields_per_record));
    }
    if (Nested()) {
      Separator();
      nested_ += json(value).dump();
      nested_ += ':';
      after_key_ = true;
      return true;
    }
    key_ = std::move(value);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    (void)error;  // its text may quote the body
    if (!error_) {
      error_ =
          PushBodyError{"malformed-json", fmt::format("not valid JSON near byte {}", position)};
    }
    return false;
  }

  PushBodyParse Finish() {
    PushBodyParse parse;
    if (error_) {
      parse.error = std::move(error_);
      return parse;
    }
    if (!done_) {
      parse.error = PushBodyError{"invalid-body", "the body must be a JSON object"};
      return parse;
    }
    for (const auto& [member, value] : {std::pair{"companyId", &body_.company_id},
                                        std::pair{"sourceSystem", &body_.source_system}}) {
      if (value->empty()) {
        parse.error = PushBodyError{"invalid-body", fmt::format("\"{}\" is missing", member)};
        return parse;
      }
    }
    if (!seen_data_) {
      parse.error = PushBodyError{"invalid-body", "\"data\" (an array of records) is missing"};
      return parse;
    }
    // A record may repeat the envelope's scope, never name another one.
    for (size_t i = 0; i < body_.records.size(); ++i) {
      model::RawRecord& record = body_.records[i];
      const char* member =
          !record.company_id.empty() && record.company_id != body_.company_id ? "companyId"
          : !record.source_system.empty() && record.source_system != body_.source_system
              ? "sourceSystem"
              : nullptr;
      if (member != nullptr) {
        parse.error = PushBodyError{
            "scope-mismatch",
            fmt::format("data[{}].{} differs from the request's {}", i, member, member)};
        return parse;
      }
      record.company_id.clear();
      record.source_system.clear();
    }
    parse.body = std::move(body_);
    return parse;
  }

 private:
  bool InData() const { return in_data_; }

  // Inside an object or array that is a record member's value: kept as its compact JSON text.
  bool Nested() const { return depth_ >= 4 && in_data_; }
  void Separator() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!nested_first_.back()) nested_ += ',';
    nested_first_.back() = false;
  }
  bool NestedScalar(std::string_view text) {
    Separator();
    nested_ += text;
    return true;
  }
  bool OpenNested(char open) {
    if (depth_ == 4 && IsReservedMember(key_)) {
      return Fail("invalid-body", fmt::format("{}: expected a string", Where()));
    }
    if (depth_ == 4) {
      nested_.clear();
      after_key_ = false;
    } else {
      Separator();
    }
    nested_ += open;
    nested_first_.push_back(true);
    if (open == '{') frames_.push_back({});
    return true;
  }
  bool CloseNested(char close) {
    nested_ += close;
    nested_first_.pop_back();
    if (close == '}') frames_.pop_back();
    --depth_;
    if (depth_ == 3) {
      if (nested_.size() > limits_.max_string_bytes) {
        return Fail("string-too-long", fmt::format("{}: values may be at most {} bytes", Where(),
                                                   limits_.max_string_bytes));
      }
      body_.records.back().fields.emplace_back(key_, std::move(nested_));
      nested_.clear();
    }
    return true;
  }

  std::string Where() const {
    if (depth_ >= 3 && in_data_ && !body_.records.empty()) {
      return fmt::format("data[{}].{}", body_.records.size() - 1, Printable(key_));
    }
    return Printable(key_);
  }
  // Member names come from the client: shown only when short and printable ASCII.
  static std::string Printable(std::string_view name) {
    if (name.size() > 64) return "(a long member name)";
    for (char c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
        return "(a member name)";
      }
    }
    return std::string(name);
  }

  bool Enter() {
    ++depth_;
    if (depth_ > limits_.max_json_depth) {
      return Fail("json-too-deep",
                  fmt::format("JSON may nest at most {} levels", limits_.max_json_depth));
    }
    return true;
  }

  bool CheckLength(const std::string& value) {
    if (value.size() <= limits_.max_string_bytes) return true;
    return Fail("string-too-long", fmt::format("{}: strings may be at most {} bytes", Where(),
                                               limits_.max_string_bytes));
  }

  bool Fail(std::string slug, std::string detail) {
    if (!error_) error_ = PushBodyError{std::move(slug), std::move(detail)};
    return false;
  }

  // A scalar value of the member key_ at the current depth.
  bool Scalar(std::optional<std::string> value, std::string_view kind) {
    if (depth_ == 0) return Fail("invalid-body", "the body must be a JSON object");
    if (depth_ == 1) return Envelope(std::move(value), kind);
    if (depth_ == 2) {
      // A scalar inside "data".
      return Fail("invalid-body",
                  fmt::format("data[{}]: a record must be a JSON object", body_.records.size()));
    }
    // depth 3: a record member.
    model::RawRecord& record = body_.records.back();
    const bool text = kind == "string";
    if (IsReservedMember(key_)) {
      if (key_ == "sourceUpdatedAt" && !value) return true;
      if (!text) return Fail("invalid-body", fmt::format("{}: expected a string", Where()));
      if (IsIdentityMember(key_) && HasControlCharacters(*value)) {
        return Fail(
            "invalid-body",
            fmt::format("{}: control characters are not allowed in an identity field", Where()));
      }
      if (key_ == "entity") {
        record.entity = std::move(*value);
      } else if (key_ == "externalId") {
        record.external_id = std::move(*value);
      } else if (key_ == "sourceUpdatedAt") {
        record.source_updated_at = std::move(*value);
      } else if (key_ == "companyId") {
        record.company_id = std::move(*value);  // checked against the envelope in Finish
      } else {
        record.source_system = std::move(*value);
      }
      return true;
    }
    record.fields.emplace_back(key_, std::move(value));
    return true;
  }

  bool Envelope(std::optional<std::string> value, std::string_view kind) {
    const bool text = kind == "string";
    if (key_ == "companyId" || key_ == "sourceSystem" || key_ == "stream") {
      if (!text || value->empty()) {
        return Fail("invalid-body", fmt::format("\"{}\": expected a non-empty string", key_));
      }
      if (HasControlCharacters(*value)) {
        return Fail("invalid-body",
                    fmt::format("\"{}\": control characters are not allowed", key_));
      }
      std::string& target = key_ == "companyId"      ? body_.company_id
                            : key_ == "sourceSystem" ? body_.source_system
                                                     : body_.stream;
      target = std::move(*value);
      return true;
    }
    if (key_ == "cursor") {
      if (value && !text) {
        return Fail("invalid-body", "\"cursor\": expected a string or null");
      }
      body_.cursor = std::move(value);
      return true;
    }
    if (key_ == "data") return Fail("invalid-body", "\"data\": expected an array of records");
    return Fail("invalid-body",
                fmt::format("unknown member \"{}\" (expected companyId, sourceSystem, stream, "
                            "cursor, data)",
                            Printable(key_)));
  }

  const PushLimits& limits_;
  PushBody body_;
  std::vector<std::unordered_set<std::string>> frames_;  // keys seen per open object
  size_t record_fields_ = 0;  // members of the current record that are fields
  std::string key_;
  std::string nested_;              // the JSON text of the record member value being read
  std::vector<bool> nested_first_;  // per open nested container: no element yet
  bool after_key_ = false;
  size_t depth_ = 0;
  bool in_data_ = false;
  bool seen_data_ = false;
  bool done_ = false;
  std::optional<PushBodyError> error_;
};

}  // namespace

PushBodyParse ParsePushBody(std::string_view body, const PushLimits& limits) {
  if (!model::IsValidUtf8(body)) {
    return {std::nullopt, PushBodyError{"invalid-utf8", "the body is not valid UTF-8"}};
  }
  // nlohmann's lexer takes a NUL byte for the end of the input, so a valid envelope followed by
  // NUL and anything would parse. A raw NUL is never valid JSON (not even inside a string).
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return {std::nullopt,
            PushBodyError{"malformed-json", fmt::format("not valid JSON near byte {}", nul)}};
  }
  Handler handler(limits);
  json::sax_parse(body.begin(), body.end(), &handler, nlohmann::json::input_format_t::json,
                  /*strict=*/true);
  return handler.Finish();
}

}  // namespace reglo::ingest
