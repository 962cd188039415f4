// The hub's log formatter: input that reaches a log line cannot forge another line or drive the
// operator's terminal.
#include "reglo/app/logging.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <string>

namespace reglo::app {
namespace {

std::string Format(std::string_view message) {
  const spdlog::details::log_msg msg("reglo-hub", spdlog::level::info, message);
  spdlog::memory_buf_t out;
  MakeLogFormatter()->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LoggingTest, ControlCharactersInAMessageAreEscaped) {
  const std::string line =
      Format("GET /x\r\n2026-01-01T00:00:00.000 error FORGED \x1b[2J\x1b]0;t\x07 from 10.0.0.1");
  EXPECT_NE(line.find("GET /x\\r\\n2026-01-01T00:00:00.000 error FORGED \\e[2J\\e]0;t\\x07"),
            std::string::npos)
      << line;
  // One line: only the terminating newline, no carriage return or escape left raw.
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_NE(line.find(" info "), std::string::npos) << line;
}

}  // namespace
}  // namespace reglo::app
