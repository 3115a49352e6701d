// The list of source and sink types `sluice run` and `sluice validate` know.
#include "cli/builtin_sources.h"

#include "control/documents.h"
#include "formats/registry.h"
#include "link/forward_sink.h"
#include "link/receiver.h"
#include "platform/platform_source.h"
#include "sinks/channel/channel_sink.h"
#include "sinks/files/files_sink.h"
#include "sources/modbus/modbus_source.h"
#include "sources/mqtt/mqtt_source.h"
#include "sources/opcua/opcua_source.h"
#include "sources/simulator/simulator.h"

namespace sluice::cli {

const runtime::SourceTypes& builtin_source_types() {
  static const runtime::SourceTypes types = make_source_types(nullptr);
  return types;
}

runtime::SourceTypes make_source_types(std::shared_ptr<const platform::RegistryLink> registry) {
  runtime::SourceTypes t;
  sources::register_simulator(t);
  sources::register_mqtt(t, [](std::string_view f, const formats::ParserOptions& o) {
    return formats::make_parser(f, o);
  });
  link::register_receiver(t);
  sources::register_modbus(t);
  sources::register_opcua(t);
  platform::register_platform_source(t, std::move(registry));
  t.add_sink(sinks::files::files_sink_type());
  t.add_sink(link::forward_sink_type());
  t.add_sink(sinks::channel::channel_sink_type());
  control::register_documents(t);
  return t;
}

}  // namespace sluice::cli
