// Eight bytes of text tested at once: the scans of every value a record carries (JSON escaping,
// UTF-8 validation, control characters) skip the common all-plain words with these and look at
// single bytes only in a word that has something. Each test is exact as a yes/no answer for the
// whole word (a borrow can flag a byte above a matching one, never a word without one). Pure
// inline functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace reglo::byte_words {

inline constexpr uint64_t kOnes = 0x0101010101010101ull;
inline constexpr uint64_t kHighs = 0x8080808080808080ull;

// The 8 bytes of `text` from `at` (the caller checks at + 8 <= size), in memory order.
inline uint64_t Load(std::string_view text, size_t at) {
  uint64_t word;
  std::memcpy(&word, text.data() + at, sizeof word);
  return word;
}

// Whether a byte of `word` is below `limit` (at most 0x80).
constexpr bool AnyBelow(uint64_t word, uint8_t limit) {
  return ((word - kOnes * limit) & ~word & kHighs) != 0;
}

// Whether a byte of `word` is `byte`.
constexpr bool AnyEqual(uint64_t word, uint8_t byte) {
  const uint64_t diff = word ^ (kOnes * byte);
  return ((diff - kOnes) & ~diff & kHighs) != 0;
}

// Whether a byte of `word` is 0x80 or above (not ASCII).
constexpr bool AnyHigh(uint64_t word) {
  return (word & kHighs) != 0;
}

}  // namespace reglo::byte_words
