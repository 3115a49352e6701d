// Fuzz target bodies for the rules engine's parsers (see rules_targets.h).
#include "fuzz/rules_targets.h"
