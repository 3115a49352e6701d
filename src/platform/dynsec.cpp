// The dynamic-security client: reads what the broker holds for a thing (getClient, getRole, or
// the paged lists for a reconcile), works out the commands that make it what the registry says,
// and sends them in batches over one admin connection, matching answers by correlationData.
#include "platform/dynsec.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <unordered_map>
#include <unordered_set>

#include "protocols/mqtt/packet.h"

namespace sluice::platform {
namespace dynsec_internal {

struct Command {
  nlohmann::json body;  // without correlationData
  std::string subject;  // the thing (or user) it is about, for errors
  std::string detail;   // more to name it in errors, e.g. the ACL
  // Answers that count as success, e.g. "Client not found" for a delete (absent is ok).
  std::vector<std::string> ok_errors;
};

struct Answer {
  bool answered = false;
  std::string error;  // "": done
  nlohmann::json data;
};

struct Acl {
  std::string type;
  std::string topic;
  bool allow = false;
};

struct ClientState {
  std::vector<std::string> roles;
  std::string clientid;
  bool disabled = false;
};

// What the broker holds for one principal (a thing's or the ingest client and its role).
struct BrokerState {
  std::optional<ClientState> client;
  std::optional<std::vector<Acl>> role;
};

}  // namespace dynsec_internal

namespace {

using dynsec_internal::Acl;
using dynsec_internal::Answer;
using dynsec_internal::BrokerState;
using dynsec_internal::ClientState;
using dynsec_internal::Command;
using nlohmann::json;
using std::chrono::milliseconds;

// How long a look at an idle connection waits for what the broker may have sent meanwhile.
constexpr milliseconds kLivenessPoll{1};
// How long each wait for answers lasts before the deadline is checked again.
constexpr milliseconds kWaitSlice{100};
// Entries per page of listClients / listRoles.
constexpr int kListPage = 1000;
// A reconcile reads at most this many pages of each list (10 million entries).
constexpr int kMaxListPages = 10'000;
constexpr size_t kMaxCommandsPerMessage = 10'000;
// Messages of commands sent before the first is answered. More would queue our keep-alive
// PINGREQ behind minutes of the plugin's work (it answers a message when all of it is done, and
// the broker reads our stream in order), and the broker would seem dead; two keep it busy.
constexpr size_t kMessagesInFlight = 2;
constexpr size_t kMaxTopicBytes = 65535;
constexpr uint8_t kFirstSubscribeFailure = 0x80;  // SUBACK codes from 0x80 on are refusals

constexpr const char* kNoClient = "Client not found";
constexpr const char* kNoRole = "Role not found";

// The ACL types a connected channel gives a thing, all allow.
constexpr std::array<const char*, 4> kThingAclTypes = {
    "publishClientSend", "subscribePattern", "publishClientReceive", "unsubscribePattern"};
constexpr const char* kIngestTopic = "channels/+/messages/#";

using AclKey = std::pair<std::string, std::string>;  // type, topic

Status lost(std::string why) { return {Code::kUnavailable, std::move(why)}; }

// The plugin takes JSON, which carries UTF-8 only.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

std::string check_thing_id(std::string_view id) {
  if (id.empty()) return "a thing id is empty";
  if (!valid_utf8(id)) return "a thing id is not valid UTF-8";
  if (id.size() > kMaxTopicBytes - kThingRolePrefix.size()) return "a thing id is too long";
  if (id.find('\0') != std::string_view::npos) return "a thing id contains NUL";
  return "";
}

std::string check_channel_id(std::string_view id) {
  if (id.empty()) return "a channel id is empty";
  if (!valid_utf8(id)) return "a channel id is not valid UTF-8";
  if (id.size() > kMaxTopicBytes / 2) return "a channel id is too long";
  if (id.find_first_of(std::string_view("/+#\0", 4)) != std::string_view::npos) {
    return fmt::format(
        "channel id '{}' has a character that cannot be in one topic level "
        "('/', '+', '#' or NUL)",
        id);
  }
  return "";
}

std::set<AclKey> thing_acls(const std::vector<std::string>& channels) {
  std::set<AclKey> acls;
  for (const std::string& c : channels) {
    for (const char* type : kThingAclTypes) acls.emplace(type, Dynsec::channel_topic(c));
  }
  return acls;
}

std::set<AclKey> ingest_acls() {
  return {{"subscribePattern", kIngestTopic}, {"publishClientReceive", kIngestTopic}};
}

json acl_json(const AclKey& acl) {
  return json{{"acltype", acl.first}, {"topic", acl.second}, {"allow", true}};
}

// A string field of an object from the broker, "" when absent or of another type.
std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::vector<Acl>> parse_role(const json& role) {
  if (!role.is_object()) return std::nullopt;
  std::vector<Acl> acls;
  auto it = role.find("acls");
  if (it != role.end() && it->is_array()) {
    for (const json& a : *it) {
      if (!a.is_object()) continue;
      Acl acl{string_field(a, "acltype"), string_field(a, "topic"), false};
      auto allow = a.find("allow");
      acl.allow = allow != a.end() && allow->is_boolean() && allow->get<bool>();
      acls.push_back(std::move(acl));
    }
  }
  return acls;
}

std::optional<ClientState> parse_client(const json& client) {
  if (!client.is_object()) return std::nullopt;
  ClientState state;
  state.clientid = string_field(client, "clientid");
  auto disabled = client.find("disabled");
  state.disabled = disabled != client.end() && disabled->is_boolean() && disabled->get<bool>();
  auto roles = client.find("roles");
  if (roles != client.end() && roles->is_array()) {
    for (const json& r : *roles) {
      if (r.is_object()) state.roles.push_back(string_field(r, "rolename"));
    }
  }
  return state;
}

// The commands that make `state` hold the principal `username` with exactly the role `role`,
// which holds exactly `want` (all allow). Role commands come first: the client's refer to it.
// Returns false when the client is missing and no password was given (nothing is planned for
// the client then).
bool plan(const std::string& username, const std::string& role, const std::set<AclKey>& want,
          const std::optional<std::string>& password, const BrokerState& state,
          std::vector<Command>* out) {
  if (!state.role) {
    json acls = json::array();
    for (const AclKey& a : want) acls.push_back(acl_json(a));
    out->push_back(
        {json{{"command", "createRole"}, {"rolename", role}, {"acls", acls}}, username, "", {}});
  } else {
    std::set<AclKey> have;
    for (const Acl& a : *state.role) {
      const AclKey key(a.type, a.topic);
      if (a.allow && want.count(key) != 0 && have.count(key) == 0) {
        have.insert(key);
        continue;
      }
      out->push_back({json{{"command", "removeRoleACL"},
                           {"rolename", role},
                           {"acltype", a.type},
                           {"topic", a.topic}},
                      username,
                      fmt::format(" ({} {})", a.type, a.topic),
                      {}});
    }
    for (const AclKey& a : want) {
      if (have.count(a) != 0) continue;
      json cmd = acl_json(a);
      cmd["command"] = "addRoleACL";
      cmd["rolename"] = role;
      out->push_back({std::move(cmd), username, fmt::format(" ({} {})", a.first, a.second), {}});
    }
  }

  if (!state.client) {
    if (!password) return false;
    // Not createClient's "roles": on 2.0.11 that link is one-sided (see dynsec.h).
    out->push_back(
        {json{{"command", "createClient"}, {"username", username}, {"password", *password}},
         username,
         "",
         {}});
    out->push_back({json{{"command", "addClientRole"}, {"username", username}, {"rolename", role}},
                    username,
                    fmt::format(" (role {})", role),
                    {}});
    return true;
  }
  const ClientState& c = *state.client;
  if (!c.clientid.empty()) {
    out->push_back({json{{"command", "setClientId"}, {"username", username}}, username, "", {}});
  }
  if (c.disabled) {
    out->push_back({json{{"command", "enableClient"}, {"username", username}}, username, "", {}});
  }
  for (const std::string& r : c.roles) {
    if (r == role) continue;
    out->push_back({json{{"command", "removeClientRole"}, {"username", username}, {"rolename", r}},
                    username,
                    fmt::format(" (role {})", r),
                    {}});
  }
  if (std::find(c.roles.begin(), c.roles.end(), role) == c.roles.end()) {
    out->push_back({json{{"command", "addClientRole"}, {"username", username}, {"rolename", role}},
                    username,
                    fmt::format(" (role {})", role),
                    {}});
  }
  if (password) {
    out->push_back(
        {json{{"command", "setClientPassword"}, {"username", username}, {"password", *password}},
         username,
         "",
         {}});
  }
  return true;
}

std::string missing_client_message(const std::string& id) {
  return fmt::format(
      "thing '{}' has no client in the broker, and Sluice keeps only a hash of its key, so it "
      "cannot be recreated: rotate the thing's key to provision it again",
      id);
}

Code code_for(std::string_view error) {
  if (error.find("already exists") != std::string_view::npos) return Code::kAlreadyExists;
  if (error.find("not found") != std::string_view::npos) return Code::kNotFound;
  return Code::kFailedPrecondition;
}

}  // namespace

Dynsec::Dynsec(DynsecOptions options) : options_(std::move(options)) {
  // Unique enough among this broker's admin connections: the pid and this object.
  correlation_prefix_ =
      fmt::format("sluice-{}-{:x}-", ::getpid(), reinterpret_cast<uintptr_t>(this));
}

Dynsec::~Dynsec() { disconnect(); }

std::string Dynsec::role_of(std::string_view thing_id) {
  return std::string(kThingRolePrefix) + std::string(thing_id);
}

std::string Dynsec::channel_topic(std::string_view channel_id) {
  return fmt::format("channels/{}/messages/#", channel_id);
}

std::string Dynsec::endpoint() const { return fmt::format("{}:{}", options_.host, options_.port); }

DynsecStats Dynsec::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status Dynsec::connect() {
  std::lock_guard lock(mu_);
  return ensure_connected();
}

void Dynsec::disconnect() {
  std::lock_guard lock(mu_);
  if (conn_) conn_->disconnect(milliseconds(1000));
  conn_.reset();
}

void Dynsec::drop_connection() {
  if (conn_) conn_->disconnect(milliseconds(0));
  conn_.reset();
}

Status Dynsec::ensure_connected() {
  if (conn_ && SteadyClock::now() - last_used_ >= std::chrono::seconds(options_.keep_alive_s)) {
    drop_connection();  // idle past keep alive: the broker may have dropped it
  }
  if (conn_) {
    // Whatever came while the connection sat idle: a close or a DISCONNECT means it is gone;
    // late answers of a call that timed out are dropped.
    while (true) {
      Result<std::optional<mqtt::Packet>> p = conn_->next(kLivenessPoll);
      if (!p.ok() || (p->has_value() && (*p)->header.type == mqtt::PacketType::kDisconnect)) {
        drop_connection();
        break;
      }
      if (!p->has_value()) return Status::ok_status();
    }
  }
  mqtt::ConnectionOptions copts;
  copts.host = options_.host;
  copts.port = options_.port;
  copts.tls = options_.tls;
  copts.connect.version = mqtt::Version::k311;
  copts.connect.client_id = options_.client_id;
  copts.connect.clean_start = true;
  copts.connect.keep_alive_s = options_.keep_alive_s;
  copts.connect.username = options_.username;
  copts.connect.password = options_.password;
  copts.timeout = options_.command_timeout;
  auto conn = std::make_unique<mqtt::Connection>(std::move(copts));
  Result<mqtt::Connack> ack = conn->connect(std::stop_token());
  if (!ack.ok()) return ack.status().with_context("dynsec");
  Result<std::vector<uint8_t>> granted =
      conn->subscribe({{std::string(kDynsecResponseTopic), 0}}, std::stop_token());
  if (!granted.ok()) return granted.status().with_context("dynsec");
  if (granted->empty() || (*granted)[0] >= kFirstSubscribeFailure) {
    return permission_denied(fmt::format(
        "dynsec: {} refused user '{}' the subscription to {}: is the dynamic-security plugin "
        "loaded, and is '{}' its admin (mosquitto_ctrl dynsec init)?",
        endpoint(), options_.username, kDynsecResponseTopic, options_.username));
  }
  conn_ = std::move(conn);
  last_used_ = SteadyClock::now();
  ++stats_.connects;
  return Status::ok_status();
}

Status Dynsec::exchange(const std::vector<Command>& commands, bool read_only,
                        std::vector<Answer>* answers) {
  answers->assign(commands.size(), Answer{});
  if (commands.empty()) return Status::ok_status();
  const bool reused = conn_ != nullptr;
  SLUICE_RETURN_IF_ERROR(ensure_connected());
  bool wrote = false;
  Status st = try_exchange(commands, answers, &wrote);
  if (!st.ok() && st.code() == Code::kUnavailable && reused && (read_only || !wrote)) {
    // The connection kept from an earlier call was lost: once more on a new one.
    const std::string first = st.message();
    answers->assign(commands.size(), Answer{});
    st = ensure_connected();
    if (st.ok()) st = try_exchange(commands, answers, &wrote);
    if (!st.ok()) st = Status(st.code(), first + "; then " + st.message());
  }
  return st;
}

Status Dynsec::try_exchange(const std::vector<Command>& commands, std::vector<Answer>* answers,
                            bool* wrote) {
  const std::string ep = endpoint();
  const size_t per_message =
      std::clamp<size_t>(options_.commands_per_message, 1, kMaxCommandsPerMessage);
  // correlationData -> (command index, message number)
  std::unordered_map<std::string, std::pair<size_t, size_t>> pending;
  pending.reserve(commands.size());
  std::vector<size_t> unanswered;  // per message sent
  size_t next_begin = 0;
  size_t in_flight = 0;  // messages sent and not fully answered
  const auto send_more = [&] {
    while (in_flight < kMessagesInFlight && next_begin < commands.size()) {
      const size_t end = std::min(commands.size(), next_begin + per_message);
      json batch = json::array();
      for (size_t i = next_begin; i < end; ++i) {
        std::string correlation = correlation_prefix_ + std::to_string(next_correlation_++);
        json cmd = commands[i].body;
        cmd["correlationData"] = correlation;
        batch.push_back(std::move(cmd));
        pending.emplace(std::move(correlation), std::make_pair(i, unanswered.size()));
      }
      // Names were checked to be UTF-8; replace keeps a broker's odd string from throwing.
      const std::string payload =
          json{{"commands", std::move(batch)}}.dump(-1, ' ', false, json::error_handler_t::replace);
      mqtt::Publish out;
      out.topic = kDynsecTopic;
      out.payload = payload;
      out.qos = 0;
      conn_->send(mqtt::encode_publish(conn_->version(), out));
      *wrote = true;
      ++stats_.messages_sent;
      stats_.commands_sent += end - next_begin;
      unanswered.push_back(end - next_begin);
      ++in_flight;
      next_begin = end;
    }
  };
  send_more();

  auto deadline = SteadyClock::now() + options_.command_timeout;
  while (!pending.empty()) {
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      drop_connection();  // late answers must not be taken for a later call's
      return Status(
          Code::kTimeout,
          fmt::format("dynsec: {} of {} command(s) not answered by {} within {} ms: is "
                      "the dynamic-security plugin loaded, and may '{}' publish to {}?",
                      pending.size() + (commands.size() - next_begin), commands.size(), ep,
                      options_.command_timeout.count(), options_.username, kDynsecTopic));
    }
    const auto slice = std::min(
        kWaitSlice, std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
    Result<std::optional<mqtt::Packet>> p = conn_->next(slice);
    if (!p.ok()) {
      drop_connection();
      return lost(fmt::format("dynsec: lost the connection to {}: {}", ep, p.status().message()));
    }
    if (!p->has_value()) continue;
    const mqtt::Packet& packet = **p;
    if (packet.header.type == mqtt::PacketType::kDisconnect) {
      drop_connection();
      return lost(fmt::format("dynsec: {} closed the connection", ep));
    }
    if (packet.header.type != mqtt::PacketType::kPublish) continue;
    Result<mqtt::Publish> pub = mqtt::decode_publish(conn_->version(), packet.header, packet.body);
    if (!pub.ok()) {
      drop_connection();
      return Status(Code::kCorruption, fmt::format("dynsec: {}: {}", ep, pub.status().message()));
    }
    if (pub->qos == 1) conn_->send(mqtt::encode_ack(mqtt::PacketType::kPuback, pub->packet_id));
    if (pub->topic != kDynsecResponseTopic) continue;
    if (packet.truncated) {
      drop_connection();
      return Status(Code::kResourceExhausted,
                    fmt::format("dynsec: an answer from {} is over the packet limit", ep));
    }
    const json doc = json::parse(pub->payload, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) continue;  // not for us to judge: not ours or not JSON
    auto responses = doc.find("responses");
    if (responses == doc.end() || !responses->is_array()) continue;
    for (const json& r : *responses) {
      if (!r.is_object()) continue;
      auto it = pending.find(string_field(r, "correlationData"));
      if (it == pending.end()) continue;  // another call's or another admin's
      Answer& a = (*answers)[it->second.first];
      a.answered = true;
      a.error = string_field(r, "error");
      if (auto d = r.find("data"); d != r.end()) a.data = *d;
      if (--unanswered[it->second.second] == 0) --in_flight;
      pending.erase(it);
      deadline = SteadyClock::now() + options_.command_timeout;
    }
    send_more();
  }
  last_used_ = SteadyClock::now();
  return Status::ok_status();
}

Status Dynsec::run(const std::vector<Command>& commands) {
  std::vector<Answer> answers;
  SLUICE_RETURN_IF_ERROR(exchange(commands, /*read_only=*/false, &answers));
  Status first;
  size_t failed = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    const Answer& a = answers[i];
    if (a.error.empty()) continue;
    const auto& ok = commands[i].ok_errors;
    if (std::find(ok.begin(), ok.end(), a.error) != ok.end()) continue;
    ++stats_.commands_failed;
    if (failed++ == 0) {
      first = Status(code_for(a.error),
                     fmt::format("dynsec {} '{}'{}: {}", string_field(commands[i].body, "command"),
                                 commands[i].subject, commands[i].detail, a.error));
    }
  }
  if (failed > 1) {
    return Status(first.code(),
                  fmt::format("{} (and {} more failed command(s))", first.message(), failed - 1));
  }
  return first;
}

Result<std::vector<BrokerState>> Dynsec::read_states(
    const std::vector<std::pair<std::string, std::string>>& principals) {
  std::vector<Command> commands;
  commands.reserve(principals.size() * 2);
  for (const auto& [user, role] : principals) {
    commands.push_back({json{{"command", "getClient"}, {"username", user}}, user, "", {kNoClient}});
    commands.push_back({json{{"command", "getRole"}, {"rolename", role}}, user, "", {kNoRole}});
  }
  std::vector<Answer> answers;
  SLUICE_RETURN_IF_ERROR(exchange(commands, /*read_only=*/true, &answers));
  std::vector<BrokerState> states(principals.size());
  for (size_t i = 0; i < principals.size(); ++i) {
    for (size_t k = 0; k < 2; ++k) {
      const Answer& a = answers[2 * i + k];
      const Command& c = commands[2 * i + k];
      if (!a.error.empty() && a.error != c.ok_errors.front()) {
        ++stats_.commands_failed;
        return Status(
            code_for(a.error),
            fmt::format("dynsec {} '{}': {}", string_field(c.body, "command"), c.subject, a.error));
      }
    }
    const Answer& client = answers[2 * i];
    const Answer& role = answers[2 * i + 1];
    if (client.error.empty() && client.data.is_object()) {
      states[i].client = parse_client(client.data.value("client", json()));
    }
    if (role.error.empty() && role.data.is_object()) {
      states[i].role = parse_role(role.data.value("role", json()));
    }
  }
  return states;
}

Status Dynsec::put_thing(const std::string& id, const std::optional<std::string>& key,
                         const std::vector<std::string>& channels) {
  return put_things({ThingSpec{id, key, channels}});
}

Status Dynsec::put_things(const std::vector<ThingSpec>& things) {
  std::unordered_set<std::string> seen;
  for (const ThingSpec& t : things) {
    if (std::string bad = check_thing_id(t.id); !bad.empty()) {
      return invalid_argument(fmt::format("dynsec: {}", bad));
    }
    if (t.id == options_.username) {
      return invalid_argument(
          fmt::format("dynsec: thing id '{}' is the broker admin's user name", t.id));
    }
    if (t.key && (t.key->empty() || !valid_utf8(*t.key))) {
      return invalid_argument(
          fmt::format("dynsec: thing '{}': a key must be a non-empty UTF-8 string", t.id));
    }
    if (!seen.insert(t.id).second) {
      return invalid_argument(fmt::format("dynsec: thing '{}' is given twice", t.id));
    }
    for (const std::string& c : t.channels) {
      if (std::string bad = check_channel_id(c); !bad.empty()) {
        return invalid_argument(fmt::format("dynsec: thing '{}': {}", t.id, bad));
      }
    }
  }
  std::lock_guard lock(mu_);
  return put_things_locked(things);
}

Status Dynsec::put_things_locked(const std::vector<ThingSpec>& things) {
  std::vector<std::pair<std::string, std::string>> principals;
  principals.reserve(things.size());
  for (const ThingSpec& t : things) principals.emplace_back(t.id, role_of(t.id));
  SLUICE_ASSIGN_OR_RETURN(std::vector<BrokerState> states, read_states(principals));

  std::vector<Command> commands;
  std::vector<std::string> keyless;
  for (size_t i = 0; i < things.size(); ++i) {
    const ThingSpec& t = things[i];
    const size_t before = commands.size();
    if (!plan(t.id, role_of(t.id), thing_acls(t.channels), t.key, states[i], &commands)) {
      commands.resize(before);  // nothing half-made for a thing that cannot be made
      keyless.push_back(t.id);
    }
  }
  Status st = run(commands);
  if (!st.ok() || keyless.empty()) return st;
  std::string message = missing_client_message(keyless.front());
  if (keyless.size() > 1) message += fmt::format(" (and {} more such things)", keyless.size() - 1);
  return failed_precondition("dynsec: " + message);
}

Status Dynsec::remove_thing(const std::string& id) {
  if (std::string bad = check_thing_id(id); !bad.empty()) {
    return invalid_argument(fmt::format("dynsec: {}", bad));
  }
  if (id == options_.username) {
    return invalid_argument(
        fmt::format("dynsec: thing id '{}' is the broker admin's user name", id));
  }
  std::lock_guard lock(mu_);
  return run({{json{{"command", "deleteClient"}, {"username", id}}, id, "", {kNoClient}},
              {json{{"command", "deleteRole"}, {"rolename", role_of(id)}}, id, "", {kNoRole}}});
}

Status Dynsec::ensure_ingest_client(const std::string& username, const std::string& password) {
  if (username.empty() || username == options_.username || !valid_utf8(username)) {
    return invalid_argument(
        "dynsec: the ingest client needs a UTF-8 user name of its own (not empty, not the "
        "admin's)");
  }
  if (password.empty() || !valid_utf8(password)) {
    return invalid_argument("dynsec: the ingest client's password must be non-empty UTF-8");
  }
  std::lock_guard lock(mu_);
  const std::string role(kIngestRole);
  SLUICE_ASSIGN_OR_RETURN(std::vector<BrokerState> states, read_states({{username, role}}));
  std::vector<Command> commands;
  plan(username, role, ingest_acls(), password, states[0], &commands);
  return run(commands);
}

Result<ReconcileReport> Dynsec::reconcile(const std::vector<DesiredThing>& desired) {
  std::unordered_map<std::string, const DesiredThing*> want;
  for (const DesiredThing& t : desired) {
    if (std::string bad = check_thing_id(t.id); !bad.empty()) {
      return invalid_argument(fmt::format("dynsec: {}", bad));
    }
    for (const std::string& c : t.channels) {
      if (std::string bad = check_channel_id(c); !bad.empty()) {
        return invalid_argument(fmt::format("dynsec: thing '{}': {}", t.id, bad));
      }
    }
    if (!want.emplace(t.id, &t).second) {
      return invalid_argument(fmt::format("dynsec: thing '{}' is given twice", t.id));
    }
  }

  std::lock_guard lock(mu_);
  // Everything the broker holds, page by page: roles with their ACLs, clients with their roles.
  std::map<std::string, std::vector<Acl>> roles;  // thing id -> ACLs, `sluice-thing-` only
  std::unordered_map<std::string, ClientState> clients;
  for (const char* list : {"listRoles", "listClients"}) {
    const bool is_roles = std::string_view(list) == "listRoles";
    for (int page = 0, total = 1; page < kMaxListPages && page * kListPage < total; ++page) {
      std::vector<Command> cmd = {{json{{"command", list},
                                        {"verbose", true},
                                        {"count", kListPage},
                                        {"offset", page * kListPage}},
                                   "*",
                                   "",
                                   {}}};
      std::vector<Answer> answers;
      SLUICE_RETURN_IF_ERROR(exchange(cmd, /*read_only=*/true, &answers));
      if (!answers[0].error.empty()) {
        ++stats_.commands_failed;
        return Status(code_for(answers[0].error),
                      fmt::format("dynsec {}: {}", list, answers[0].error));
      }
      const json& data = answers[0].data;
      if (!data.is_object()) break;
      auto tc = data.find("totalCount");
      total = tc != data.end() && tc->is_number_integer() ? tc->get<int>() : 0;
      auto items = data.find(is_roles ? "roles" : "clients");
      if (items == data.end() || !items->is_array() || items->empty()) break;
      for (const json& item : *items) {
        if (is_roles) {
          const std::string name = string_field(item, "rolename");
          if (name.rfind(kThingRolePrefix, 0) != 0) continue;
          if (auto acls = parse_role(item)) {
            roles[name.substr(kThingRolePrefix.size())] = std::move(*acls);
          }
        } else if (auto c = parse_client(item)) {
          clients[string_field(item, "username")] = std::move(*c);
        }
      }
    }
  }

  ReconcileReport report;
  report.things_in_broker = roles.size();
  std::vector<Command> commands;
  for (const auto& [id, acls] : roles) {
    if (want.count(id) != 0) continue;
    const std::string role = role_of(id);
    const auto holds_role = [&](const ClientState& c) {
      return std::find(c.roles.begin(), c.roles.end(), role) != c.roles.end();
    };
    auto own = clients.find(id);
    const bool delete_client = own != clients.end() && id != options_.username &&
                               (own->second.roles.empty() || holds_role(own->second));
    if (delete_client) {
      commands.push_back(
          {json{{"command", "deleteClient"}, {"username", id}}, id, "", {kNoClient}});
    }
    // No role is deleted while a client holds it (that crashes 2.0.11 later, see dynsec.h).
    for (const auto& [username, c] : clients) {
      if ((username == id && delete_client) || !holds_role(c)) continue;
      commands.push_back(
          {json{{"command", "removeClientRole"}, {"username", username}, {"rolename", role}},
           username,
           fmt::format(" (role {})", role),
           {}});
    }
    commands.push_back({json{{"command", "deleteRole"}, {"rolename", role}}, id, "", {kNoRole}});
    report.removed.push_back(id);
  }
  for (const DesiredThing& t : desired) {
    BrokerState state;
    if (auto r = roles.find(t.id); r != roles.end()) state.role = r->second;
    if (auto c = clients.find(t.id); c != clients.end()) state.client = c->second;
    if (!state.client) {  // nothing is made up for it: the key rotation will make it all
      report.missing_clients.push_back({t.id, missing_client_message(t.id)});
      continue;
    }
    const size_t before = commands.size();
    plan(t.id, role_of(t.id), thing_acls(t.channels), std::nullopt, state, &commands);
    if (commands.size() > before) report.repaired.push_back(t.id);
  }
  SLUICE_RETURN_IF_ERROR(run(commands));
  return report;
}

}  // namespace sluice::platform
