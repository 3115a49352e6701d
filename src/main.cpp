// The sluice binary: every subcommand lives in src/cli.
#include "cli/cli.h"

int main(int argc, char** argv) { return sluice::cli::main(argc, argv); }
