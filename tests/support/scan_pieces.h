// Test support for the scans that read text eight bytes at a time (reglo/core/byte_words.h):
// short pieces of every kind of byte they tell apart, and each piece placed at every offset in
// plain ASCII, where a scan's answer must be the one it gives the piece alone (under eight bytes,
// read byte by byte). Header-only and stateless: safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace reglo::testing {

// ASCII, controls, DEL, JSON's specials, valid UTF-8 (2 to 4 bytes, a C1 control, a BOM) and
// invalid UTF-8 (a surrogate, an overlong form, stray and truncated bytes).
inline std::vector<std::string> ScanPieces() {
  return {"",
          "plain",
          "\t",
          std::string("\0", 1),
          "\x1f",
          "\x7f",
          "~",
          "\"",
          "\\",
          "\xc3\xa8",
          "\xc2\x85",
          "\xc2\xa0",
          "\xe2\x82\xac",
          "\xf0\x9f\x98\x80",
          "\xed\xa0\x80",
          "\xc0\xaf",
          "\xff",
          "\x80",
          "\xc3",
          "\xe2\x82",
          "a\xc3\xa8z",
          "\xef\xbb\xbf"};
}

// Calls check(text, before, after) with `piece` between `before` 'a's (0 to 17) and `after` 'b's
// (0 to 15, in steps of 3): every offset of the piece within and across eight-byte words.
template <typename Check>
void ForEachPlacement(const std::string& piece, Check&& check) {
  for (size_t before = 0; before <= 17; ++before) {
    for (size_t after = 0; after <= 17; after += 3) {
      check(std::string(before, 'a') + piece + std::string(after, 'b'), before, after);
    }
  }
}

}  // namespace reglo::testing
