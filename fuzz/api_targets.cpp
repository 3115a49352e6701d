#include "fuzz/api_targets.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/bodies.h"
#include "api/http_server.h"
#include "api/query_params.h"

namespace sluice::fuzz {

int api_params(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  std::string decoded;
  if (api::percent_decode(in.substr(0, nl), &decoded) && decoded.size() > in.size()) abort();
  for (const std::string_view part : {in, in.substr(0, nl)}) {
    Timestamp ts = 0;
    api::ParamError error;
    (void)api::parse_time_param("from", part, &ts, &error);
    uint64_t n = 0;
    if (api::parse_count_param("limit", part, 1, 100000, &n, &error) && (n < 1 || n > 100000)) {
      abort();
    }
  }
  return 0;
}

namespace {

using nlohmann::json;

// Runs one body parser: a refusal must say why, an accepted body must be accepted again with the
// same values when written back as JSON by `write`.
template <typename Body, typename Write, typename Same>
void check_body(std::string_view in, bool (*parse)(std::string_view, Body*, api::ParamError*),
                Write write, Same same) {
  Body body;
  api::ParamError error;
  if (!parse(in, &body, &error)) {
    if (error.message.empty()) abort();
    return;
  }
  const std::string again = api::dump_json(write(body));
  Body reparsed;
  if (!parse(again, &reparsed, &error) || !same(body, reparsed)) abort();
}

}  // namespace

int api_bodies(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_body<api::LoginBody>(
      in, api::parse_login_body,
      [](const api::LoginBody& b) {
        return json{{"user", b.user}, {"password", b.password}};
      },
      [](const api::LoginBody& a, const api::LoginBody& b) {
        return a.user == b.user && a.password == b.password;
      });
  check_body<api::NewUserBody>(
      in, api::parse_new_user_body,
      [](const api::NewUserBody& b) {
        return json{{"name", b.name}, {"password", b.password}, {"role", auth::role_name(b.role)}};
      },
      [](const api::NewUserBody& a, const api::NewUserBody& b) {
        return a.name == b.name && a.password == b.password && a.role == b.role;
      });
  check_body<api::NewTokenBody>(
      in, api::parse_new_token_body,
      [](const api::NewTokenBody& b) {
        if (b.expires_in_days &&
            (*b.expires_in_days < 1 || *b.expires_in_days > api::kMaxTokenDays)) {
          abort();
        }
        json j = {{"user", b.user}, {"name", b.name}};
        if (b.expires_in_days) j["expires_in_days"] = *b.expires_in_days;
        return j;
      },
      [](const api::NewTokenBody& a, const api::NewTokenBody& b) {
        return a.user == b.user && a.name == b.name && a.expires_in_days == b.expires_in_days;
      });
  check_body<api::ModeBody>(
      in, api::parse_mode_body,
      [](const api::ModeBody& b) {
        return json{{"mode", b.running ? "RUNNING" : "DISABLED"}};
      },
      [](const api::ModeBody& a, const api::ModeBody& b) { return a.running == b.running; });
  check_body<api::PurgeBody>(
      in, api::parse_purge_body,
      [](const api::PurgeBody& b) {
        if (b.sessions.empty() || b.sessions.size() > api::kMaxPurgeSessions) abort();
        json list = json::array();
        for (const api::SessionRef& s : b.sessions) {
          if (s.stream.empty() || s.sink.empty()) abort();
          list.push_back({{"stream", s.stream}, {"sink", s.sink}});
        }
        return json{{"sessions", std::move(list)}};
      },
      [](const api::PurgeBody& a, const api::PurgeBody& b) { return a.sessions == b.sessions; });
  check_body<api::ControlBody>(
      in, api::parse_control_body,
      [](const api::ControlBody& b) {
        if (b.values.empty() == b.operation.empty()) abort();
        if (b.values.size() > api::kMaxControlValues) abort();
        if (!b.operation.empty()) {
          json params = json::object();
          for (const auto& [k, v] : b.params) params[k] = v;
          return json{{"operation", b.operation}, {"params", std::move(params)}};
        }
        json list = json::array();
        for (const auto& [name, value] : b.values) {
          if (name.empty()) abort();
          list.push_back({{"name", name},
                          {"value", std::visit([](const auto& x) { return json(x); }, value)}});
        }
        return json{{"values", std::move(list)}};
      },
      [](const api::ControlBody& a, const api::ControlBody& b) {
        if (a.operation != b.operation || a.params != b.params ||
            a.values.size() != b.values.size()) {
          return false;
        }
        for (size_t i = 0; i < a.values.size(); ++i) {
          if (a.values[i].first != b.values[i].first ||
              !identical(a.values[i].second, b.values[i].second)) {
            return false;
          }
        }
        return true;
      });
  return 0;
}

}  // namespace sluice::fuzz
