// The admin tokens (DESIGN §10): 32 random bytes, URL-safe base64 without padding. The store keeps
// only SHA-256 hashes (the shared token's in integration_settings "admin.token_sha256", named
// tokens' in integration_admin_tokens); the token itself is shown once,
// when it is made. Requests are checked by hashing the presented token and comparing the hashes
// in constant time. Functions are stateless; thread-safety is that of the Store passed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reglo/admin/access.h"
#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/storage/admin_store.h"
#include "reglo/storage/audit_store.h"

namespace reglo::admin {

inline constexpr std::string_view kTokenSetting = "admin.token_sha256";

// A fresh token (43 characters of [A-Za-z0-9_-]).
Result<std::string> GenerateToken();
// Hex SHA-256 of a token, as stored.
std::string TokenHash(std::string_view token);
// Whether `presented` hashes to `expected_hash` (constant-time comparison of the hashes).
bool TokenMatches(std::string_view presented, std::string_view expected_hash);

struct TokenSetup {
  std::string hash;         // what requests are checked against
  std::string new_token;    // set only when generated now: print it once, never log it
  bool from_store = false;  // the hash lives in the store (reset takes effect at once)
};

// The token to check requests against: `configured` (config file or REGLO_ADMIN_TOKEN) when set;
// else the one in the store; else a new one, stored hashed and returned once in new_token.
Result<TokenSetup> EnsureAdminToken(storage::AdminStore& store,
                                    const std::optional<std::string>& configured,
                                    const Clock& clock);
// Replaces the stored token with a new one and returns it (`reglo-hub admin-token reset`).
Result<std::string> ResetAdminToken(storage::AdminStore& store, const Clock& clock);

// Named admin tokens (issue #18 §3): a name is 1 to 64 of [a-z0-9._-] and not one of the
// actors the audit log names otherwise (kSharedTokenName, kCliActor).
bool IsValidTokenName(std::string_view name);
// Creates an active token `name` with `role`, stored hashed, and returns the token (show it
// once, never log it). InvalidArgument for a bad name; AlreadyExists when the name is active.
Result<std::string> CreateNamedToken(storage::AuditStore& store, const std::string& name, Role role,
                                     const Clock& clock);

}  // namespace reglo::admin
