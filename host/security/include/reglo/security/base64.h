// Base64 (RFC 4648 standard alphabet, with padding) for signatures, secrets and sealed blobs.
// Stateless functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace reglo::security {

std::string Base64Encode(std::string_view bytes);
// nullopt unless `text` is canonical padded base64 (length a multiple of 4, '=' only at the end).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace reglo::security
