// The hub's log: one line per message on stderr, "2026-12-03T21:00:00.000 info <message>", with
// every control character of the message escaped (core/text.h) whatever its origin, so input that
// reaches a log line (a request path with %0D%0A, a CSV header with terminal escapes, a plugin's
// text) can neither start a forged line nor drive the operator's terminal. Call once, at start-up.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace reglo::app {

// A formatter with the hub's pattern and an escaped message; exposed so tests can format with it.
std::unique_ptr<spdlog::formatter> MakeLogFormatter();

// Makes the default spdlog logger write to stderr through MakeLogFormatter at `level` ("info",
// "debug", ...).
void ConfigureLogging(const std::string& level);

}  // namespace reglo::app
