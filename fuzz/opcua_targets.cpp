// Fuzz target bodies for the OPC UA decoders (protocols/opcua/): one per decoder, shared by the
// libFuzzer binaries and the unit test that replays fuzz/corpus/opcua_*.
#include "fuzz/opcua_targets.h"
