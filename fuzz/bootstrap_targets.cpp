// The bootstrap fuzz body (see bootstrap_targets.h).
#include "fuzz/bootstrap_targets.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/bootstrap_api.h"
#include "api/query_params.h"
#include "platform/bootstrap.h"

namespace {

using nlohmann::json;
using sluice::api::BootstrapBody;

json write_back(const BootstrapBody& b) {
  json j = json::object();
  if (b.external_id) j["external_id"] = *b.external_id;
  if (b.external_key) j["external_key"] = *b.external_key;
  if (b.org) j["org"] = *b.org;
  if (b.name) j["name"] = *b.name;
  if (b.thing_id) j["thing_id"] = *b.thing_id;
  if (b.channels) j["channels"] = *b.channels;
  if (b.content) j["content"] = *b.content;
  return j;
}

bool same(const BootstrapBody& a, const BootstrapBody& b) {
  return a.external_id == b.external_id && a.external_key == b.external_key && a.org == b.org &&
         a.name == b.name && a.thing_id == b.thing_id && a.channels == b.channels &&
         a.content.has_value() == b.content.has_value() &&
         (!a.content || sluice::api::dump_json(*a.content) == sluice::api::dump_json(*b.content));
}

}  // namespace

namespace sluice::fuzz {

int bootstrap(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const bool create : {true, false}) {
    BootstrapBody body;
    sluice::api::ParamError error;
    if (!sluice::api::parse_bootstrap_body(in, create, &body, &error)) {
      if (error.message.empty() || error.field.empty()) abort();
      continue;
    }
    if (create && !body.external_id) abort();
    BootstrapBody again;
    if (!sluice::api::parse_bootstrap_body(sluice::api::dump_json(write_back(body)), create, &again,
                                           &error) ||
        !same(body, again)) {
      abort();
    }
  }
  // Forging an answer needs the key: arbitrary bytes never decrypt.
  static const std::string kKey(sluice::platform::kBootstrapKeyBytes, '\x42');
  if (sluice::platform::decrypt_answer(kKey, in).ok()) abort();
  return 0;
}

}  // namespace sluice::fuzz
