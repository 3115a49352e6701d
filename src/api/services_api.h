// The services of the REST API: the sources and sinks of the runtime, with MODE, HEALTH, counters
// and their settings, and the changes at run time (runtime.h): add one from its TOML table, give
// one new settings, remove one, enable or disable one. See docs/api.md, "Services".
//
// Settings travel as TOML text, as in the config file (the body of POST and PUT, Content-Type
// text/plain or application/toml); a settings error is a 400 that names the key (`field`) and the
// line in the text (`line`, `column`), parsed from the runtime's message.
//
// Every service answer carries `settings` (the state database's text of its table), `version`
// (the row's updated_at: when those settings last changed) and `last_seen`: when a request last
// saw the service's counter (samples for a source, delivered for a sink) move. The routes keep
// the previous counter of every service for that; a service whose counter never moved while
// someone looked has `last_seen: null`.
//
// Changes are serialized by the runtime: two requests changing one service at once each get
// their own whole answer, and the settings kept are those applied last. Reading settings and
// version waits while a change is being applied.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/router.h"
#include "runtime/runtime.h"

namespace sluice::api {

// The largest settings text accepted (a service's table is a few hundred bytes; the server's own
// max_body applies first).
inline constexpr size_t kMaxSettingsBytes = 64 * 1024;

// Adds the /api/v1/services routes. `runtime` must outlive the router. The handlers are
// thread-safe; changes are serialized by the runtime.
void register_service_routes(Router& router, runtime::Runtime& runtime);

// Where a config error points, read from a message of the config parser
// ("<label>:<line>:<column>: key '<key>': <what>", one error a line; or "<label>: key '<key>':
// <what>" without a position). Empty key and line 0 when the message does not say.
struct SettingsErrorPlace {
  std::string key;
  int line = 0;
  int column = 0;
};
SettingsErrorPlace settings_error_place(std::string_view message);

}  // namespace sluice::api
