// reglo-connector-runner: runs one connector plugin in its own process for the hub (process
// isolation). Everything is in RunnerMain (runner.h).
#include "reglo/isolation/runner.h"

int main(int argc, char** argv) {
  return reglo::isolation::RunnerMain(argc, argv);
}
