#include "reglo/core/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scan_pieces.h"

namespace reglo {
namespace {

using namespace std::string_literals;

TEST(TextTest, EveryControlCharacterIsWrittenOut) {
  EXPECT_EQ(EscapeControlCharacters("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeControlCharacters("nul\0end"s), "nul\\0end");
  EXPECT_EQ(EscapeControlCharacters("\x1b[2J\x07\x7f"), "\\e[2J\\x07\\x7f");
  EXPECT_EQ(EscapeControlCharacters("c1 \xc2\x85 \xc2\x9b"), "c1 \\u0085 \\u009b");
  EXPECT_EQ(EscapeControlCharacters("bad \xff\xc3"), "bad \\xff\\xc3");
  EXPECT_EQ(EscapeControlCharacters("overlong \xc0\xaf"), "overlong \\xc0\\xaf");
}

TEST(TextTest, PrintableTextAndUtf8AreKeptAndEscapingIsIdempotent) {
  const std::string text = "Niccolò Città — path\\to \xc2\xa0 €";
  EXPECT_FALSE(HasControlCharacters(text));
  EXPECT_EQ(EscapeControlCharacters(text), text);
  const std::string escaped = EscapeControlCharacters("x\ny\x1b");
  EXPECT_EQ(EscapeControlCharacters(escaped), escaped);
  EXPECT_TRUE(HasControlCharacters("x\ny"));
}

TEST(TextTest, ExcerptCutsLongValuesOnACharacterBoundaryAndSaysSo) {
  EXPECT_EQ(Excerpt("short"), "short");
  const std::string long_value(30'000, '9');
  const std::string excerpt = Excerpt(long_value);
  EXPECT_EQ(excerpt, std::string(200, '9') + "…(30000 bytes)");
  // "è" is two bytes: a cut inside it backs up to its start.
  const std::string accents = std::string(199, 'a') + "èèè";
  EXPECT_EQ(Excerpt(accents), std::string(199, 'a') + "…(205 bytes)");
  EXPECT_EQ(Excerpt("a\nb", 200), "a\\nb");
}

TEST(TextTest, EditDistanceCountsASwapOfNeighboursAsOneEdit) {
  EXPECT_EQ(EditDistance("sync", "sync"), 0u);
  EXPECT_EQ(EditDistance("snyc", "sync"), 1u);
  EXPECT_EQ(EditDistance("lst", "list"), 1u);
  EXPECT_EQ(EditDistance("", "serve"), 5u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

// A typo gets its nearest name; a word that is far from every name gets none.
TEST(TextTest, NearestNameSuggestsOnlyCloseNames) {
  const std::vector<std::string> commands = {"sync", "preview", "plugins", "migrate", "serve"};
  EXPECT_EQ(NearestName("snyc", commands), "sync");
  EXPECT_EQ(NearestName("serv", commands), "serve");
  EXPECT_EQ(NearestName("plugin", commands), "plugins");
  EXPECT_EQ(NearestName("frobnicate", commands), "");
  EXPECT_EQ(NearestName("x", {"ab"}), "");  // one edit of two letters is no typo
  EXPECT_EQ(NearestName("cvs", {"csv", "sql"}), "csv");
}

TEST(TextTest, EqualsIgnoringAsciiCaseFoldsAsciiLettersOnly) {
  EXPECT_TRUE(EqualsIgnoringAsciiCase("Content-Type", "content-type"));
  EXPECT_TRUE(EqualsIgnoringAsciiCase("c1E", "C1e"));
  EXPECT_TRUE(EqualsIgnoringAsciiCase("", ""));
  EXPECT_FALSE(EqualsIgnoringAsciiCase("open", "opened"));
  EXPECT_FALSE(EqualsIgnoringAsciiCase("open", "0pen"));
  // No Unicode case folding: "s\u00ec" and "S\u00cc" differ.
  EXPECT_FALSE(EqualsIgnoringAsciiCase("s\xc3\xac", "S\xc3\x8c"));
  EXPECT_TRUE(EqualsIgnoringAsciiCase("s\xc3\xac", "S\xc3\xac"));
}

// HasControlCharacters skips plain ASCII eight bytes at a time: with plain text around it, a
// piece is found wherever it falls, exactly as the piece alone (checked byte by byte) is.
TEST(TextTest, ControlCharactersAreFoundWhereverTheyFallInLongText) {
  for (const std::string& piece : reglo::testing::ScanPieces()) {
    const bool alone = HasControlCharacters(piece);
    reglo::testing::ForEachPlacement(
        piece, [&](const std::string& text, size_t before, size_t after) {
          ASSERT_EQ(HasControlCharacters(text), alone)
              << before << " + " << EscapeControlCharacters(piece) << " + " << after;
        });
  }
}

}  // namespace
}  // namespace reglo
