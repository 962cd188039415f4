// reglo-datagen command-line entry point: parses the options, writes the files, and prints one
// summary line per file on stdout. Exit status 0 = written, 1 = I/O error, 2 = usage error.
#include <cstdio>
#include <string>
#include <vector>

#include "datagen.h"

int main(int argc, char** argv) {
  using namespace reglo::datagen;
  Options options;
  std::string error;
  if (!ParseOptions(argc, argv, options, error)) {
    std::fprintf(stderr, "reglo-datagen: %s\nTry 'reglo-datagen --help'.\n", error.c_str());
    return 2;
  }
  if (options.help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  std::vector<FileSummary> summary;
  if (!Generate(options, summary, error)) {
    std::fprintf(stderr, "reglo-datagen: %s\n", error.c_str());
    return 1;
  }
  for (const FileSummary& file : summary) {
    std::printf("%s: %llu rows (%llu changed), %llu bytes\n", file.path.c_str(),
                static_cast<unsigned long long>(file.rows),
                static_cast<unsigned long long>(file.changed),
                static_cast<unsigned long long>(file.bytes));
  }
  return 0;
}
