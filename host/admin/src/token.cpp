#include "reglo/admin/token.h"

#include <fmt/format.h>

#include "reglo/core/crypto.h"

namespace reglo::admin {
namespace {

// RFC 4648 §5 (base64url), no padding.
std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

}  // namespace

Result<std::string> GenerateToken() {
  Result<std::string> bytes = RandomBytes(32);
  if (!bytes.ok()) return bytes.status();
  return Base64Url(*bytes);
}

std::string TokenHash(std::string_view token) {
  return HexEncode(Sha256(token));
}

bool TokenMatches(std::string_view presented, std::string_view expected_hash) {
  return ConstantTimeEquals(TokenHash(presented), expected_hash);
}

Result<TokenSetup> EnsureAdminToken(storage::AdminStore& store,
                                    const std::optional<std::string>& configured,
                                    const Clock& clock) {
  TokenSetup setup;
  if (configured && !configured->empty()) {
    setup.hash = TokenHash(*configured);
    return setup;
  }
  setup.from_store = true;
  Result<std::optional<std::string>> stored = store.GetSetting(std::string(kTokenSetting));
  if (!stored.ok()) return stored.status().WithContext("reading the admin token");
  if (stored->has_value()) {
    setup.hash = **stored;
    return setup;
  }
  Result<std::string> token = ResetAdminToken(store, clock);
  if (!token.ok()) return token.status();
  setup.hash = TokenHash(*token);
  setup.new_token = std::move(*token);
  return setup;
}

Result<std::string> ResetAdminToken(storage::AdminStore& store, const Clock& clock) {
  Result<std::string> token = GenerateToken();
  if (!token.ok()) return token.status();
  Status stored =
      store.PutSetting(std::string(kTokenSetting), TokenHash(*token), FormatUtc(clock.Now()));
  if (!stored.ok()) return stored.WithContext("storing the admin token");
  return token;
}

bool IsValidTokenName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == kSharedTokenName || name == kCliActor) {
    return false;
  }
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> CreateNamedToken(storage::AuditStore& store, const std::string& name, Role role,
                                     const Clock& clock) {
  if (!IsValidTokenName(name)) {
    return Status::InvalidArgument(
        fmt::format("token name: use 1 to 64 of a-z, 0-9, '.', '_' or '-' (not '{}' or '{}')",
                    kSharedTokenName, kCliActor));
  }
  Result<std::string> token = GenerateToken();
  if (!token.ok()) return token.status();
  storage::AdminTokenRow row;
  row.name = name;
  row.role = std::string(RoleName(role));
  row.token_sha256 = TokenHash(*token);
  row.created_at = FormatUtc(clock.Now());
  Result<int64_t> created = store.CreateAdminToken(row);
  if (!created.ok()) return created.status();
  return token;
}

}  // namespace reglo::admin
