// The `opcua` source's keys (see docs/configuration.md, "opcua").
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "protocols/opcua/types.h"
#include "sources/opcua/opcua_source.h"

namespace sluice::sources {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

bool valid_node_id(const std::string& text) { return opcua::ExpandedNodeId::parse(text).ok(); }

std::string node_id_error(const std::string& text) {
  const auto r = opcua::ExpandedNodeId::parse(text);
  return r.ok() ? std::string() : r.status().message();
}

// A node id key: any text form ("ns=2;s=Motor.Speed", "i=85", "nsu=urn:x;s=Tag").
std::string node_id_key(runtime::ConfigTable& t, std::string_view key, std::string fallback,
                        bool required) {
  if (required && !t.has(key)) {
    t.error(key, "is required: a node id such as \"ns=2;s=Motor.Speed\"");
    return fallback;
  }
  std::string v = t.string(key, fallback, "a node id such as \"ns=2;s=Motor.Speed\"");
  if (t.has(key) && !valid_node_id(v)) {
    t.error(key, fmt::format("'{}' is not a node id: {}", v, node_id_error(v)));
  }
  return v;
}

}  // namespace

Result<std::vector<opcua::QualifiedName>> parse_browse_path(std::string_view text) {
  std::vector<opcua::QualifiedName> out;
  if (text.empty()) return invalid_argument("an empty browse path");
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t slash = std::min(text.find('/', pos), text.size());
    const std::string_view element = text.substr(pos, slash - pos);
    if (element.empty()) {
      return invalid_argument(
          fmt::format("browse path '{}' has an empty element at offset {}", text, pos));
    }
    opcua::QualifiedName qn;
    const size_t colon = element.find(':');
    bool numeric = colon != std::string_view::npos && colon > 0 && colon <= 5;
    for (size_t i = 0; numeric && i < colon; ++i) numeric = element[i] >= '0' && element[i] <= '9';
    if (numeric) {
      const unsigned long ns = std::stoul(std::string(element.substr(0, colon)));
      if (ns > 65535) {
        return invalid_argument(
            fmt::format("browse path '{}': namespace {} is out of range", text, ns));
      }
      qn.ns = static_cast<uint16_t>(ns);
      qn.name = std::string(element.substr(colon + 1));
    } else {
      qn.name = std::string(element);
    }
    out.push_back(std::move(qn));
    pos = slash + 1;
  }
  return out;
}

std::string OpcuaSettings::summary() const {
  std::string what;
  if (!options_.nodes.empty()) what += fmt::format("{} nodes", options_.nodes.size());
  if (!options_.browse.empty()) {
    what += fmt::format("{}{} browsed subtrees", what.empty() ? "" : " + ", options_.browse.size());
  }
  return fmt::format("{} ({}/{}), {}, {}", options_.client.endpoint_url,
                     opcua::uasc::policy_uri(options_.client.policy)
                         .substr(opcua::uasc::policy_uri(options_.client.policy).rfind('#') + 1),
                     opcua::uasc::mode_name(options_.client.mode), what,
                     options_.subscribe
                         ? fmt::format("subscribed at {} ms", options_.publishing_interval_ms)
                         : fmt::format("polled every {} ms", options_.poll_interval.count()));
}

Result<std::unique_ptr<runtime::Source>> OpcuaSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Source>(std::make_unique<OpcuaSource>(name, options_));
}

std::shared_ptr<const runtime::SourceSettings> parse_opcua_settings(runtime::ConfigTable& t) {
  OpcuaOptions o;
  if (!t.has("endpoint")) t.error("endpoint", "is required, e.g. \"opc.tcp://plc1:4840\"");
  o.client.endpoint_url = t.string(
      "endpoint", "opc.tcp://127.0.0.1:4840", "an endpoint URL such as \"opc.tcp://plc1:4840\"",
      [](const std::string& s) { return opcua::parse_endpoint_url(s).ok(); });
  const size_t policy = t.choice("security_policy", 0, {"None", "Basic256Sha256"});
  o.client.policy =
      policy == 0 ? opcua::SecurityPolicy::kNone : opcua::SecurityPolicy::kBasic256Sha256;
  const size_t default_mode = policy == 0 ? 0 : 2;
  const size_t mode = t.choice("security_mode", default_mode, {"None", "Sign", "SignAndEncrypt"});
  o.client.mode = static_cast<opcua::SecurityMode>(static_cast<int32_t>(mode) + 1);
  if (policy == 0 && mode != 0) {
    t.error("security_mode", "Sign and SignAndEncrypt need security_policy = \"Basic256Sha256\"");
  } else if (policy != 0 && mode == 0) {
    t.error("security_mode", "security_policy Basic256Sha256 needs Sign or SignAndEncrypt");
  }
  o.client.user = t.string("user", "");
  o.client.password = t.string("password", "");
  if (!o.client.user.empty() && !t.has("password")) {
    t.error("password", "is required with user");
  }
  o.pki_dir = t.file_path("pki_dir", "", "a directory for the client's certificate");
  o.client.identity.application_uri = t.string("application_uri", "");
  o.client.server_thumbprint =
      t.string("server_thumbprint", "",
               "the SHA-1 thumbprint of the server's certificate in hex (40 digits)",
               [](const std::string& v) { return opcua::normalize_thumbprint(v).size() == 40; });
  auto positive_ms = [](std::chrono::nanoseconds d) { return d.count() > 0; };
  o.client.request_timeout = duration_cast<milliseconds>(
      t.duration("request_timeout", std::chrono::seconds(10), "a positive duration", positive_ms));
  o.client.connect_timeout = duration_cast<milliseconds>(
      t.duration("connect_timeout", std::chrono::seconds(10), "a positive duration", positive_ms));
  o.client.session_timeout = duration_cast<milliseconds>(
      t.duration("session_timeout", std::chrono::seconds(60), "a positive duration", positive_ms));
  o.reconnect_min = duration_cast<milliseconds>(t.duration(
      "reconnect_min", std::chrono::milliseconds(500), "a positive duration", positive_ms));
  o.reconnect_max = duration_cast<milliseconds>(
      t.duration("reconnect_max", std::chrono::seconds(30), "a positive duration", positive_ms));

  o.subscribe = t.choice("mode", 0, {"subscribe", "poll"}) == 0;
  o.publishing_interval_ms = static_cast<double>(
      duration_cast<milliseconds>(t.duration("publishing_interval", std::chrono::seconds(1),
                                             "a positive duration", positive_ms))
          .count());
  if (t.has("sampling_interval")) {
    o.sampling_interval_ms = static_cast<double>(
        duration_cast<milliseconds>(t.duration("sampling_interval", std::chrono::seconds(0),
                                               "a duration (0: as fast as the server can)"))
            .count());
  }
  o.queue_size = static_cast<uint32_t>(t.integer("queue_size", 10, "a queue size from 1 to 100000",
                                                 [](int64_t v) { return v >= 1 && v <= 100'000; }));
  const size_t deadband = t.choice("deadband", 0, {"none", "absolute", "percent"});
  o.deadband = static_cast<opcua::DeadbandType>(deadband);
  o.deadband_value =
      t.number("deadband_value", 0, "a non-negative number", [](double v) { return v >= 0; });
  if (deadband != 0 && !t.has("deadband_value")) {
    t.error("deadband_value", "is required with deadband = \"absolute\" or \"percent\"");
  }
  o.poll_interval = duration_cast<milliseconds>(
      t.duration("poll_interval", std::chrono::seconds(1), "a positive duration", positive_ms));
  o.asset = t.string("asset", "");
  o.max_items = static_cast<size_t>(t.integer("max_items", 100'000, "a positive number of items",
                                              [](int64_t v) { return v > 0; }));

  if (auto nodes = t.tables("nodes")) {
    for (runtime::ConfigTable& n : *nodes) {
      OpcuaNodeSpec spec;
      if (n.has("path")) {
        spec.path = n.string("path", "", "a browse path such as \"1:Plant/1:Motor/1:Speed\"");
        if (const auto p = parse_browse_path(spec.path); !p.ok())
          n.error("path", p.status().message());
        if (n.has("node_id")) n.error("path", "give either node_id or path, not both");
      } else {
        spec.node_id = node_id_key(n, "node_id", "i=0", true);
      }
      spec.series = n.string("series", "");
      if (n.has("sampling_interval")) {
        spec.sampling_interval_ms = static_cast<double>(
            duration_cast<milliseconds>(
                n.duration("sampling_interval", std::chrono::seconds(0), "a duration"))
                .count());
      }
      if (n.has("queue_size")) {
        spec.queue_size =
            static_cast<uint32_t>(n.integer("queue_size", 10, "a queue size from 1 to 100000",
                                            [](int64_t v) { return v >= 1 && v <= 100'000; }));
      }
      o.nodes.push_back(std::move(spec));
    }
  }
  if (auto browse = t.tables("browse")) {
    for (runtime::ConfigTable& b : *browse) {
      OpcuaBrowseSpec spec;
      spec.root = node_id_key(b, "root", "", false);
      if (b.has("root_path")) {
        spec.root_path = b.string("root_path", "", "a browse path such as \"1:Plant/1:Line1\"");
        if (const auto p = parse_browse_path(spec.root_path); !p.ok()) {
          b.error("root_path", p.status().message());
        }
        if (b.has("root")) b.error("root_path", "give either root or root_path, not both");
      }
      spec.asset = b.string("asset", "");
      spec.include = b.strings("include", {}, "a list of patterns such as [\"Motor.*\"]");
      spec.exclude = b.strings("exclude", {}, "a list of patterns such as [\"*.Diagnostics*\"]");
      spec.max_depth = static_cast<int>(b.integer("max_depth", 10, "a depth from 1 to 100",
                                                  [](int64_t v) { return v >= 1 && v <= 100; }));
      o.browse.push_back(std::move(spec));
    }
  }
  if (o.nodes.empty() && o.browse.empty()) {
    t.error("nodes",
            "the source reads nothing: add [[sources.nodes]] tables with node_id = \"...\" or "
            "[[sources.browse]] tables with root = \"...\"");
  }
  if (auto control = t.tables("control")) {
    for (runtime::ConfigTable& c : *control) {
      OpcuaControlSpec spec;
      if (!c.has("name")) c.error("name", "is required: the set point's name");
      spec.name = c.string("name", "");
      spec.node_id = node_id_key(c, "node_id", "i=0", true);
      spec.type = c.string(
          "type", "", "a built-in type name such as \"Double\"",
          [](const std::string& s) { return opcua::builtin_type_from_name(s).has_value(); });
      o.control.push_back(std::move(spec));
    }
  }
  if (auto ops = t.tables("operations")) {
    for (runtime::ConfigTable& c : *ops) {
      OpcuaOperationSpec spec;
      if (!c.has("name")) c.error("name", "is required: the operation's name");
      spec.name = c.string("name", "");
      spec.object_id = node_id_key(c, "object", "i=0", true);
      spec.method_id = node_id_key(c, "method", "i=0", true);
      o.operations.push_back(std::move(spec));
    }
  }
  return std::make_shared<OpcuaSettings>(std::move(o));
}

void register_opcua(runtime::SourceTypes& types) {
  types.add({"opcua", [](runtime::ConfigTable& t) { return parse_opcua_settings(t); }});
}

}  // namespace sluice::sources
