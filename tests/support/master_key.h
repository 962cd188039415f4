// Test support: a master key of 32 fixed bytes, for tests that seal and open secrets (agent keys,
// webhook secrets) without a key file. Header-only and stateless: safe from any thread.
#pragma once

#include <string>

#include "reglo/security/master_key.h"

namespace reglo::testing {

inline security::MasterKey FixedMasterKey(char byte = '\x42') {
  return security::MasterKey::FromBytes(std::string(32, byte)).value();
}

}  // namespace reglo::testing
