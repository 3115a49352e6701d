// Fuzz target bodies for the Modbus reply decoding (sources/modbus/), shared by the libFuzzer
// binary and the unit test that replays fuzz/corpus/modbus.
#include "fuzz/modbus_targets.h"
