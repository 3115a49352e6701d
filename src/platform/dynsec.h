// The bridge from Sluice's device registry to the MQTT broker's access control: a client for
// mosquitto's dynamic-security plugin (mosquitto 2.0), which keeps the broker's clients, roles
// and ACLs in step with the registry's things, keys and thing <-> channel connections. Commands
// go as JSON ({"commands":[...]}) to $CONTROL/dynamic-security/v1 and the plugin answers on
// $CONTROL/dynamic-security/v1/response; each command carries a correlationData that its answer
// echoes, so answers are matched to commands whatever else arrives on that topic.
//
// What is kept in the broker (the model):
//   - per thing: a dynsec client, username = thing id, password = the thing's key, no client id
//     restriction, holding exactly one role, `sluice-thing-<thing id>`;
//   - that role holds, for each connected channel C and nothing else, allow ACLs on
//     `channels/C/messages/#` of the types publishClientSend, subscribePattern,
//     publishClientReceive and unsubscribePattern (the plugin cannot substitute %u/%c, so a role
//     per thing is the way to say "this thing's channels");
//   - Sluice's ingest client with the role `sluice-ingest`: subscribePattern and
//     publishClientReceive on `channels/+/messages/#`.
// Every change is sent as a difference against what the broker has (read first), because the
// plugin acts on changes, measured on 2.0.11:
//   - setClientPassword, setClientId, addRoleACL, removeRoleACL (on a role a client holds),
//     addClientRole, removeClientRole and deleteRole disconnect the live connections of the
//     clients concerned ("disconnected by administrative action"), and so do deleteClient and
//     disableClient (the plugin's documentation; remove_thing's drop is tested). So a key
//     rotation drops the old key's connections, and connecting or disconnecting a channel drops
//     the thing's connections (the device reconnects with its unchanged key and gets the new
//     ACLs). A put that changes nothing sends nothing and drops nobody.
//   - BUT on 2.0.11 a client made by createClient with its "roles" inline is linked one way
//     only (the role does not know the client): ACL changes of that role then drop none of the
//     client's connections, and deleteRole of it while the client still holds it crashes the
//     broker at the next addRoleACL on a role of that name (a dangling pointer; reproduced with
//     mosquitto_ctrl alone). So a client is made with createClient and then addClientRole, and
//     a role is deleted only after the clients that hold it are deleted or unlinked.
//   - every command that changes something makes the plugin write its whole JSON file (and the
//     broker serves nobody meanwhile), so a bulk of N things costs O(N x file size): see
//     put_things(). (2.0.11 writes the file in place, not to a `.new` beside it.)
//
// Thread safety: every method may be called from any thread; one mutex (mu_) guards the
// connection and the counters, so calls are serialized (a call waits for the one before it).
// No thread runs the connection between calls: a connection idle for longer than its keep alive
// is replaced before the next command, and one found lost is replaced once per call.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "protocols/mqtt/connection.h"

namespace sluice::platform {

namespace dynsec_internal {
struct Command;
struct Answer;
struct BrokerState;
}  // namespace dynsec_internal

inline constexpr std::string_view kDynsecTopic = "$CONTROL/dynamic-security/v1";
inline constexpr std::string_view kDynsecResponseTopic = "$CONTROL/dynamic-security/v1/response";
inline constexpr std::string_view kThingRolePrefix = "sluice-thing-";
inline constexpr std::string_view kIngestRole = "sluice-ingest";

struct DynsecOptions {
  std::string host = "localhost";
  int port = 1883;
  // A dynsec admin (made with `mosquitto_ctrl dynsec init <file> <user> <password>`).
  std::string username;
  std::string password;
  // Give each Dynsec its own: two connections with one client id take each other over.
  std::string client_id = "sluice-dynsec";
  std::optional<mqtt::TlsOptions> tls;  // none: plain TCP
  uint16_t keep_alive_s = 60;
  // The longest wait for the broker without progress: for the connection, and for the next
  // answer while commands are outstanding (every answer restarts it). The plugin answers a
  // message of commands only when it has done them all, and writes its file once per changing
  // command, so with many things a message can take seconds.
  std::chrono::milliseconds command_timeout{30'000};
  // Commands per MQTT message (two messages are in flight at a time). Smaller messages give
  // earlier answers (progress) at little cost: the broker's time goes into its file writes,
  // one per changing command, either way; at 10,000 things one write takes ~0.2 s, so 50
  // commands stay well inside command_timeout and the keep alive.
  size_t commands_per_message = 50;
};

// What the registry wants for one thing. `key` is needed to create the thing's client and is
// set as its password when given (a rotation); without it an existing client keeps its password.
struct ThingSpec {
  std::string id;
  std::optional<std::string> key;
  std::vector<std::string> channels;
};

// A thing as reconcile() sees the registry: Sluice keeps only key hashes, so no key.
struct DesiredThing {
  std::string id;
  std::vector<std::string> channels;
};

struct MissingClient {
  std::string thing;
  std::string message;  // what is wrong and what to do, for an operator
};

struct ReconcileReport {
  size_t things_in_broker = 0;        // `sluice-thing-` roles found before the repair
  std::vector<std::string> removed;   // things the registry no longer has, deleted
  std::vector<std::string> repaired;  // things whose role, ACLs or client-role link were fixed
  // Things the registry has whose client is not in the broker: not recreated (no key).
  std::vector<MissingClient> missing_clients;
};

struct DynsecStats {
  uint64_t commands_sent = 0;
  uint64_t commands_failed = 0;  // answered with an error (expected ones, like a delete of
                                 // something absent, are not counted)
  uint64_t messages_sent = 0;
  uint64_t connects = 0;
};

class Dynsec {
 public:
  explicit Dynsec(DynsecOptions options);
  ~Dynsec();  // disconnects
  Dynsec(const Dynsec&) = delete;
  Dynsec& operator=(const Dynsec&) = delete;

  // Connects as the admin and subscribes to the response topic. Other calls connect on demand,
  // so this is for finding out early that the broker or the credentials are wrong.
  Status connect();
  void disconnect();

  // Makes the broker hold thing `id` as the model says: creates the client and role if missing
  // (then the key is required: kFailedPrecondition and nothing changed without it), sets the
  // password when a key is given, and makes the role's ACLs exactly the channels given (adds the
  // missing, removes the extra) and the client's roles exactly its own role, with no client id
  // restriction, enabled.
  Status put_thing(const std::string& id, const std::optional<std::string>& key,
                   const std::vector<std::string>& channels);
  // The same for many things: the state of all is read first, then all changes go out, many
  // commands per MQTT message, answers awaited together. Every thing is attempted; the Status
  // names the first failure and how many more there were. Cost on mosquitto 2.0.11: three
  // commands (createRole with its ACLs, createClient, addClientRole) per new thing, each a
  // write of the plugin's whole file, so the time grows with the square of the things held.
  Status put_things(const std::vector<ThingSpec>& things);

  // Deletes the thing's client (its live connections are dropped), then its role; absent is
  // ok. (A role linked by hand to another client too would have to be unlinked first:
  // reconcile does that, this does not look.)
  Status remove_thing(const std::string& id);

  // Makes Sluice's ingest client (username, password) with the role `sluice-ingest`. Sets the
  // password every time, which drops the ingest client's live connections: call it before the
  // ingest source connects.
  Status ensure_ingest_client(const std::string& username, const std::string& password);

  // Brings the broker in step with the registry's full list of things: deletes `sluice-thing-`
  // roles (and their clients) of things not in `desired`, creates missing roles, fixes ACLs and
  // client-role links, and reports things whose client is missing (they need a key rotation;
  // nothing is changed for them). Reads the broker with listRoles and listClients (verbose,
  // pages of 1,000).
  // Never touches the admin client or clients without a `sluice-thing-<username>` role.
  Result<ReconcileReport> reconcile(const std::vector<DesiredThing>& desired);

  DynsecStats stats() const;
  std::string endpoint() const;  // "host:port"

  // For the other parts' code and tests: the role name of a thing, the ACL topic of a channel.
  static std::string role_of(std::string_view thing_id);
  static std::string channel_topic(std::string_view channel_id);

 private:
  using Command = dynsec_internal::Command;
  using Answer = dynsec_internal::Answer;
  using BrokerState = dynsec_internal::BrokerState;
  using SteadyClock = std::chrono::steady_clock;

  // All with mu_ held.
  Status ensure_connected();
  void drop_connection();
  // Sends the commands (commands_per_message to a message) and waits for all their answers;
  // a connection found lost is replaced once, and read-only commands are sent again then. The
  // Status is about the transport; the commands' own errors are in `answers`.
  Status exchange(const std::vector<Command>& commands, bool read_only,
                  std::vector<Answer>* answers);
  Status try_exchange(const std::vector<Command>& commands, std::vector<Answer>* answers,
                      bool* wrote);
  // exchange() and then the first unexpected error as a Status naming the command and thing.
  Status run(const std::vector<Command>& commands);
  // getClient and getRole for each (username, role) pair.
  Result<std::vector<BrokerState>> read_states(
      const std::vector<std::pair<std::string, std::string>>& principals);
  Status put_things_locked(const std::vector<ThingSpec>& things);

  const DynsecOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<mqtt::Connection> conn_;  // guarded by mu_; null: not connected
  SteadyClock::time_point last_used_;       // guarded by mu_
  uint64_t next_correlation_ = 1;           // guarded by mu_
  std::string correlation_prefix_;          // set once in the constructor
  DynsecStats stats_;                       // guarded by mu_
};

}  // namespace sluice::platform
