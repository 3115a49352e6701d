// The command line: `sluice run|validate|store inspect|store fsck|version`.
#pragma once

namespace sluice::cli {
int main(int argc, char** argv);
}
