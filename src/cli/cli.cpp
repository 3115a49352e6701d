// Placeholder until the CLI lands.
#include "cli/cli.h"

namespace sluice::cli {
int main(int, char**) { return 0; }
}  // namespace sluice::cli
