// AgentKeys: the API keys remote agents push with (DESIGN §8). A key is scoped to one company and
// source system, optionally to IP blocks; it is shown once at creation and stored only as its
// SHA-256 (a 256-bit random key needs no slow hash), together with its signing secret sealed by
// the MasterKey. At most kMaxActiveKeysPerScope keys are active per scope: create the new key,
// move the agent over, revoke the old one.
//
// Key text: "rgk_<prefix>_<secret part>", prefix 12 lowercase hex characters (public: names the
// key in lists and logs), secret part 64 hex characters (32 random bytes). Signing secret:
// "whsec_<base64 of 32 random bytes>" (Standard Webhooks). Logs and messages name a key only as
// DisplayKey(prefix, last4); hashes are compared with CRYPTO_memcmp.
//
// Borrows the store, master key and clock, which must outlive it. Used by one thread at a time,
// like the Store it wraps.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/ingest/cidr.h"
#include "reglo/security/master_key.h"
#include "reglo/storage/agent_key_store.h"

namespace reglo::ingest {

inline constexpr int kMaxActiveKeysPerScope = 2;

// What Create returns: the only time the API key and the signing secret exist in clear.
struct NewAgentKey {
  std::string api_key;         // rgk_<prefix>_<secret part>
  std::string signing_secret;  // whsec_<base64>
  storage::AgentKeyRow row;    // as stored: hash and sealed secret, never the above
};

// A key that Authenticate accepted, with what the request checks need.
struct AuthenticatedKey {
  storage::AgentKeyRow row;
  std::string signing_key;    // the signing secret's raw bytes (for WebhookVerifier)
  std::vector<Cidr> allowed;  // empty: every address
};

// "rgk_<prefix>_...<last4>": how a key appears in lists, logs and messages.
std::string DisplayKey(std::string_view prefix, std::string_view last4);
// The prefix of "rgk_<prefix>_<secret part>"; nullopt when `api_key` does not have that shape.
std::optional<std::string> ApiKeyPrefix(std::string_view api_key);

// Revokes the active key named by `name` (its prefix, a DisplayKey or the whole key text) at the
// clock's now. Needs no master key: it touches no secret. kInvalidArgument when `name` names no
// prefix; kNotFound when there is no such active key.
Status RevokeAgentKey(storage::AgentKeyStore& store, std::string_view name, const Clock& clock);

class AgentKeys {
 public:
  AgentKeys(storage::AgentKeyStore& store, const security::MasterKey& master, const Clock& clock);

  // Creates an active key for (company, source) allowed from `allowed_cidrs` (none: anywhere),
  // with its own ingest rate limit when `rate_per_second` / `burst` are set (else the hub's).
  // kInvalidArgument for an empty company/source, a bad CIDR or a rate <= 0 / burst < 1;
  // kAlreadyExists when the scope already has kMaxActiveKeysPerScope active keys.
  Result<NewAgentKey> Create(const std::string& company_id, const std::string& source_system,
                             const std::vector<std::string>& allowed_cidrs,
                             std::optional<double> rate_per_second = std::nullopt,
                             std::optional<int64_t> burst = std::nullopt);
  // Every key, oldest first (rows hold hashes and sealed secrets only).
  Result<std::vector<storage::AgentKeyRow>> List();
  // RevokeAgentKey on this object's store and clock.
  Status Revoke(std::string_view name) { return RevokeAgentKey(store_, name, clock_); }
  // Why Authenticate refused a key, for callers that answer differently (the ingestion API's
  // problem types): decided here, never read back from the message.
  enum class Refusal { kNone, kUnknownOrInvalid, kRevoked };
  // Checks an API key presented by an agent: known, hash matching, active. kAuthError otherwise
  // (one message for unknown and wrong keys, another for revoked ones; `refusal`, when given,
  // says which). Marks the key used unless `mark_used` is false (the ingestion API marks it only
  // once a push is accepted, so a refused request writes nothing).
  Result<AuthenticatedKey> Authenticate(std::string_view api_key, bool mark_used = true,
                                        Refusal* refusal = nullptr);

 private:
  storage::AgentKeyStore& store_;
  const security::MasterKey& master_;
  const Clock& clock_;
};

}  // namespace reglo::ingest
