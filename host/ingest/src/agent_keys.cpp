#include "reglo/ingest/agent_keys.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "reglo/core/crypto.h"
#include "reglo/security/base64.h"

namespace reglo::ingest {
namespace {

constexpr std::string_view kKeyPrefix = "rgk_";
constexpr size_t kPrefixHexLength = 12;
constexpr size_t kSecretHexLength = 64;
constexpr size_t kMaxScopeLength = 200;

std::string Hex(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckScopePart(std::string_view what, const std::string& value) {
  if (value.empty()) return Status::InvalidArgument(fmt::format("an agent key needs a {}", what));
  if (value.size() > kMaxScopeLength) {
    return Status::InvalidArgument(fmt::format("the {} is too long", what));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(fmt::format("the {} contains control characters", what));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string DisplayKey(std::string_view prefix, std::string_view last4) {
  return fmt::format("{}{}_...{}", kKeyPrefix, prefix, last4);
}

std::optional<std::string> ApiKeyPrefix(std::string_view api_key) {
  if (!api_key.starts_with(kKeyPrefix)) return std::nullopt;
  api_key.remove_prefix(kKeyPrefix.size());
  const size_t underscore = api_key.find('_');
  if (underscore != kPrefixHexLength) return std::nullopt;
  const std::string_view prefix = api_key.substr(0, underscore);
  if (!IsLowerHex(prefix)) return std::nullopt;
  return std::string(prefix);
}

Status RevokeAgentKey(storage::AgentKeyStore& store, std::string_view name, const Clock& clock) {
  // Accept the prefix, the displayed form or (pasted by mistake) the whole key.
  std::string prefix(name);
  if (std::optional<std::string> parsed = ApiKeyPrefix(name)) prefix = *parsed;
  if (prefix.size() != kPrefixHexLength || !IsLowerHex(prefix)) {
    return Status::InvalidArgument(
        "name the key to revoke by its prefix (12 hex characters, as `keys list` shows)");
  }
  Result<bool> revoked = store.RevokeAgentKey(prefix, FormatUtc(clock.Now()));
  if (!revoked.ok()) return revoked.status();
  if (!*revoked) {
    return Status::NotFound(fmt::format("no active agent key has the prefix {}", prefix));
  }
  return Status::Ok();
}

AgentKeys::AgentKeys(storage::AgentKeyStore& store, const security::MasterKey& master,
                     const Clock& clock)
    : store_(store), master_(master), clock_(clock) {}

Result<NewAgentKey> AgentKeys::Create(const std::string& company_id,
                                      const std::string& source_system,
                                      const std::vector<std::string>& allowed_cidrs,
                                      std::optional<double> rate_per_second,
                                      std::optional<int64_t> burst) {
  REGLO_RETURN_IF_ERROR(CheckScopePart("company", company_id));
  if (rate_per_second && !(*rate_per_second > 0 && *rate_per_second <= 1e6)) {
    return Status::InvalidArgument("the rate limit must be above 0 requests per second");
  }
  if (burst && (*burst < 1 || *burst > 1000000)) {
    return Status::InvalidArgument("the burst must be from 1 to 1000000 requests");
  }
  REGLO_RETURN_IF_ERROR(CheckScopePart("source system", source_system));
  Result<std::vector<Cidr>> cidrs = ParseCidrs(allowed_cidrs);
  if (!cidrs.ok()) return cidrs.status();
  nlohmann::json allowed = nlohmann::json::array();
  for (const Cidr& cidr : *cidrs) allowed.push_back(cidr.ToString());

  Result<std::string> prefix_bytes = RandomBytes(kPrefixHexLength / 2);
  if (!prefix_bytes.ok()) return prefix_bytes.status();
  Result<std::string> key_bytes = RandomBytes(kSecretHexLength / 2);
  if (!key_bytes.ok()) return key_bytes.status();
  Result<std::string> secret_bytes = RandomBytes(32);
  if (!secret_bytes.ok()) return secret_bytes.status();

  NewAgentKey created;
  const std::string prefix = Hex(*prefix_bytes);
  created.api_key = fmt::format("{}{}_{}", kKeyPrefix, prefix, Hex(*key_bytes));
  created.signing_secret = "whsec_" + security::Base64Encode(*secret_bytes);
  Result<std::string> sealed = master_.Seal(*secret_bytes, prefix);
  if (!sealed.ok()) return sealed.status();

  storage::AgentKeyRow& row = created.row;
  row.prefix = prefix;
  row.key_hash = HexEncode(Sha256(created.api_key));
  row.secret_protected = std::move(*sealed);
  row.company_id = company_id;
  row.source_system = source_system;
  row.allowed_cidrs = allowed.dump();
  row.last4 = created.api_key.substr(created.api_key.size() - 4);
  row.status = "active";
  row.created_at = FormatUtc(clock_.Now());
  row.rate_per_second = rate_per_second;
  row.rate_burst = burst;
  Result<int64_t> id = store_.CreateAgentKey(row, kMaxActiveKeysPerScope);
  if (!id.ok()) return id.status();
  row.id = *id;
  return created;
}

Result<std::vector<storage::AgentKeyRow>> AgentKeys::List() {
  return store_.ListAgentKeys();
}

Result<AuthenticatedKey> AgentKeys::Authenticate(std::string_view api_key, bool mark_used,
                                                 Refusal* refusal) {
  Refusal ignored = Refusal::kNone;
  Refusal& why = refusal != nullptr ? *refusal : ignored;
  why = Refusal::kUnknownOrInvalid;
  const Status unknown = Status::AuthError("unknown or invalid API key");
  const std::optional<std::string> prefix = ApiKeyPrefix(api_key);
  if (!prefix) return unknown;
  Result<std::optional<storage::AgentKeyRow>> found = store_.FindAgentKey(*prefix);
  if (!found.ok()) {
    why = Refusal::kNone;  // not a refusal: the store failed
    return found.status();
  }
  if (!found->has_value()) return unknown;
  storage::AgentKeyRow& row = **found;
  const std::string hash = HexEncode(Sha256(api_key));
  if (row.key_hash.size() != hash.size() ||
      CRYPTO_memcmp(row.key_hash.data(), hash.data(), hash.size()) != 0) {
    return unknown;
  }
  if (row.status != "active") {
    why = Refusal::kRevoked;
    return Status::AuthError(
        fmt::format("the API key {} is revoked", DisplayKey(row.prefix, row.last4)));
  }
  why = Refusal::kNone;
  Result<std::string> secret = master_.Open(row.secret_protected, row.prefix);
  if (!secret.ok()) {
    return Status::Internal(
        fmt::format("the signing secret of {} does not open with this hub's "
                    "master key file",
                    DisplayKey(row.prefix, row.last4)));
  }
  AuthenticatedKey key;
  nlohmann::json allowed = nlohmann::json::parse(row.allowed_cidrs, nullptr, false);
  if (allowed.is_array()) {
    for (const auto& text : allowed) {
      if (!text.is_string()) continue;
      Result<Cidr> cidr = Cidr::Parse(text.get<std::string>());
      if (cidr.ok()) key.allowed.push_back(*cidr);
    }
  }
  if (mark_used) REGLO_RETURN_IF_ERROR(store_.TouchAgentKey(row.id, FormatUtc(clock_.Now())));
  key.signing_key = std::move(*secret);
  key.row = std::move(row);
  return key;
}

}  // namespace reglo::ingest
