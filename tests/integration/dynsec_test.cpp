// The dynamic-security client (platform/dynsec.h) against a real mosquitto 2.0 with the plugin
// loaded (tests/fixtures/mosquitto.h, dynsec_admin): things connect with their id and key and
// reach only their connected channels, the ingest client receives what they publish, a key
// rotation and a channel disconnect take effect on live connections, reconcile repairs the
// broker from the registry's list, and bulk provisioning of 1,000 and 10,000 things (timed).
// Devices and the ingest client are Sluice's own MQTT Connection, read on the test's thread.
//
// "Not delivered" is shown without waiting for nothing: the forbidden message is published
// first and an allowed marker after it on the same connection; the broker keeps one client's
// messages in order, so once the marker arrived the forbidden one would have too.
#include "platform/dynsec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/mosquitto.h"
#include "fixtures/mqtt_test_client.h"
#include "fixtures/test_support.h"
#include "protocols/mqtt/connection.h"
#include "protocols/mqtt/packet.h"

namespace sluice::platform {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::Mosquitto;
using testing::MosquittoOptions;

constexpr const char* kAdmin = "admin";
constexpr const char* kAdminPassword = "admin-secret";
constexpr const char* kIngestUser = "sluice-ingest-client";
constexpr const char* kIngestPassword = "ingest-secret";
constexpr auto kDeadline = std::chrono::seconds(30);
constexpr milliseconds kSlice{100};

MosquittoOptions dynsec_broker() {
  MosquittoOptions o;
  o.dynsec_admin = MosquittoOptions::DynsecAdmin{kAdmin, kAdminPassword};
  return o;
}

DynsecOptions admin_options(const Mosquitto& broker) {
  DynsecOptions o;
  o.host = broker.host();
  o.port = broker.port();
  o.username = kAdmin;
  o.password = kAdminPassword;
  o.client_id = "test-dynsec";
  return o;
}

std::string topic_of(const std::string& channel, const std::string& rest = "telemetry") {
  return "channels/" + channel + "/messages/" + rest;
}

using Client = testing::MqttTestClient;

class DynsecTest : public ::testing::Test {
 protected:
  DynsecTest() : broker_(dir_.path(), dynsec_broker()), dynsec_(admin_options(broker_)) {}

  // The ingest client, provisioned and subscribed to every channel.
  std::unique_ptr<Client> ingest() {
    Status st = dynsec_.ensure_ingest_client(kIngestUser, kIngestPassword);
    EXPECT_TRUE(st.ok()) << st.to_string();
    auto c = std::make_unique<Client>(broker_, kIngestUser, kIngestPassword);
    st = c->connect();
    EXPECT_TRUE(st.ok()) << st.to_string();
    EXPECT_LT(c->subscribe("channels/+/messages/#"), 0x80);
    return c;
  }

  // A mosquitto_ctrl command as the admin, for breaking the broker's state behind Sluice's back.
  void ctrl(const std::string& args) {
    testing::run_or_throw("mosquitto_ctrl -h 127.0.0.1 -p " + std::to_string(broker_.port()) +
                          " -u " + kAdmin + " -P " + kAdminPassword + " dynsec " + args);
  }

  testing::TempDir dir_;
  Mosquitto broker_;
  Dynsec dynsec_;
};

TEST_F(DynsecTest, ThingPublishesOnConnectedChannelAndIngestReceivesIt) {
  ASSERT_TRUE(dynsec_.connect().ok());
  auto in = ingest();
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());

  Client thing(broker_, "t1", "key-1");
  ASSERT_TRUE(thing.connect().ok());
  ASSERT_TRUE(thing.publish(topic_of("c1"), "21.5"));
  auto got = in->receive_until("21.5");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, std::vector<std::string>{"21.5"});

  // A second put with the same channels changes nothing, so it sends nothing and drops nobody.
  const uint64_t sent = dynsec_.stats().commands_sent;
  ASSERT_TRUE(dynsec_.put_thing("t1", std::nullopt, {"c1"}).ok());
  EXPECT_EQ(dynsec_.stats().commands_sent, sent + 2);  // the getClient and getRole
  EXPECT_FALSE(thing.dropped());
  EXPECT_EQ(dynsec_.stats().commands_failed, 0u);
}

TEST_F(DynsecTest, ThingCannotPublishOrSubscribeOnChannelItIsNotConnectedTo) {
  auto in = ingest();
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());
  Client thing(broker_, "t1", "key-1");
  ASSERT_TRUE(thing.connect().ok());

  EXPECT_GE(thing.subscribe("channels/c2/messages/#"), 0x80);
  EXPECT_GE(thing.subscribe("#"), 0x80);
  EXPECT_LT(thing.subscribe("channels/c1/messages/#"), 0x80);

  ASSERT_TRUE(thing.publish(topic_of("c2"), "forbidden"));
  ASSERT_TRUE(thing.publish(topic_of("c1"), "marker"));
  auto got = in->receive_until("marker");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, std::vector<std::string>{"marker"});
}

TEST_F(DynsecTest, KeyRotationRefusesOldKeyAndDropsItsLiveConnection) {
  auto in = ingest();
  ASSERT_TRUE(dynsec_.put_thing("t1", "old-key", {"c1"}).ok());
  Client old_conn(broker_, "t1", "old-key");
  ASSERT_TRUE(old_conn.connect().ok());
  ASSERT_FALSE(old_conn.dropped());

  ASSERT_TRUE(dynsec_.put_thing("t1", "new-key", {"c1"}).ok());

  EXPECT_TRUE(testing::eventually([&] { return old_conn.dropped(); }, kDeadline));
  Client again_old(broker_, "t1", "old-key");
  Status st = again_old.connect();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("refused"));

  Client fresh(broker_, "t1", "new-key");
  ASSERT_TRUE(fresh.connect().ok());
  ASSERT_TRUE(fresh.publish(topic_of("c1"), "after rotation"));
  EXPECT_TRUE(in->receive_until("after rotation").has_value());
}

TEST_F(DynsecTest, DisconnectedChannelStopsDeliveringAndDropsLiveConnection) {
  auto in = ingest();
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1", "c2"}).ok());
  Client before(broker_, "t1", "key-1");
  ASSERT_TRUE(before.connect().ok());
  ASSERT_TRUE(before.publish(topic_of("c2"), "c2 while connected"));
  auto got = in->receive_until("c2 while connected");
  ASSERT_TRUE(got.has_value());

  ASSERT_TRUE(dynsec_.put_thing("t1", std::nullopt, {"c1"}).ok());
  // A role change makes the plugin drop the thing's connections; it comes back with its key.
  EXPECT_TRUE(testing::eventually([&] { return before.dropped(); }, kDeadline));

  Client after(broker_, "t1", "key-1");
  ASSERT_TRUE(after.connect().ok());
  EXPECT_GE(after.subscribe("channels/c2/messages/#"), 0x80);
  ASSERT_TRUE(after.publish(topic_of("c2"), "c2 after disconnect"));
  ASSERT_TRUE(after.publish(topic_of("c1"), "marker"));
  got = in->receive_until("marker");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, std::vector<std::string>{"marker"});
}

TEST_F(DynsecTest, RemovedThingCannotConnectAndRemovingAgainIsOk) {
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());
  Client live(broker_, "t1", "key-1");
  ASSERT_TRUE(live.connect().ok());

  ASSERT_TRUE(dynsec_.remove_thing("t1").ok());
  EXPECT_TRUE(testing::eventually([&] { return live.dropped(); }, kDeadline));
  Client again(broker_, "t1", "key-1");
  EXPECT_FALSE(again.connect().ok());

  Status st = dynsec_.remove_thing("t1");
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(dynsec_.stats().commands_failed, 0u);
}

TEST_F(DynsecTest, PutOfUnknownThingWithoutKeyFailsNamingTheThing) {
  Status st = dynsec_.put_thing("ghost", std::nullopt, {"c1"});
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("'ghost'"));
  EXPECT_THAT(st.message(), HasSubstr("rotate the thing's key"));
  Result<ReconcileReport> report = dynsec_.reconcile({});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->things_in_broker, 0u);  // not even its role was made

  EXPECT_EQ(dynsec_.put_thing("t1", "k", {"bad/channel"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(dynsec_.put_thing(kAdmin, "k", {}).code(), Code::kInvalidArgument);
}

TEST_F(DynsecTest, PutRepairsRoleChangedBehindItsBack) {
  auto in = ingest();
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());
  ctrl("removeRoleACL sluice-thing-t1 publishClientSend channels/c1/messages/#");
  ctrl("addRoleACL sluice-thing-t1 publishClientSend channels/c1/messages/# deny");
  ctrl("addRoleACL sluice-thing-t1 subscribePattern channels/elsewhere/messages/# allow");

  ASSERT_TRUE(dynsec_.put_thing("t1", std::nullopt, {"c1"}).ok());
  EXPECT_EQ(dynsec_.stats().commands_failed, 0u);
  Client thing(broker_, "t1", "key-1");
  ASSERT_TRUE(thing.connect().ok());
  ASSERT_TRUE(thing.publish(topic_of("c1"), "allowed again"));
  EXPECT_TRUE(in->receive_until("allowed again").has_value());
}

TEST_F(DynsecTest, EnsureIngestClientTakesOverAnExistingClient) {
  ctrl("createClient " + std::string(kIngestUser) + " -p other -c fixed-id");
  ctrl("createRole stray-role");
  ctrl("addClientRole " + std::string(kIngestUser) + " stray-role");
  auto in = ingest();  // asserts the connect with kIngestPassword and the subscription
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());
  Client thing(broker_, "t1", "key-1");
  ASSERT_TRUE(thing.connect().ok());
  ASSERT_TRUE(thing.publish(topic_of("c1"), "to ingest"));
  EXPECT_TRUE(in->receive_until("to ingest").has_value());
}

TEST_F(DynsecTest, BrokerErrorNamesCommandAndThing) {
  // Valid UTF-8 that MQTT forbids in a name (a control character): the plugin refuses it.
  const std::string id = "bad\x01id";
  Status st = dynsec_.put_thing(id, "key", {"c1"});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("dynsec "));
  EXPECT_THAT(st.message(), HasSubstr("'" + id + "'"));
  EXPECT_GE(dynsec_.stats().commands_failed, 1u);
  std::cout << "[dynsec] broker error: " << st.to_string() << "\n";
}

TEST_F(DynsecTest, ReconcileRemovesStrayThingRepairsRolesAndReportsMissingClient) {
  auto in = ingest();
  ASSERT_TRUE(dynsec_
                  .put_things({{"keep", "key-keep", {"c1"}},
                               {"broken", "key-broken", {"c1"}},
                               {"lost", "key-lost", {"c1"}},
                               {"stray", "key-stray", {"c1"}}})
                  .ok());
  // Behind Sluice's back: a stray thing made by hand, a role stripped, a link cut, a client gone.
  ctrl("createRole sluice-thing-x");
  ctrl("createClient x -p key-x");
  ctrl("addClientRole x sluice-thing-x");
  ctrl("removeRoleACL sluice-thing-broken publishClientSend channels/c1/messages/#");
  ctrl("addRoleACL sluice-thing-broken publishClientSend channels/other/messages/# allow");
  ctrl("removeClientRole keep sluice-thing-keep");
  ctrl("deleteClient lost");

  Result<ReconcileReport> report = dynsec_.reconcile(
      {{"keep", {"c1"}}, {"broken", {"c1"}}, {"lost", {"c1"}}, {"never-made", {"c1"}}});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->things_in_broker, 5u);
  EXPECT_THAT(report->removed, ::testing::UnorderedElementsAre("stray", "x"));
  EXPECT_THAT(report->repaired, ::testing::UnorderedElementsAre("keep", "broken"));
  ASSERT_EQ(report->missing_clients.size(), 2u);
  EXPECT_EQ(report->missing_clients[0].thing, "lost");
  EXPECT_THAT(report->missing_clients[0].message, HasSubstr("rotate the thing's key"));
  EXPECT_EQ(report->missing_clients[1].thing, "never-made");

  Client x(broker_, "x", "key-x");
  EXPECT_FALSE(x.connect().ok());
  Client stray(broker_, "stray", "key-stray");
  EXPECT_FALSE(stray.connect().ok());
  for (const char* name : {"keep", "broken"}) {
    Client c(broker_, name, std::string("key-") + name);
    ASSERT_TRUE(c.connect().ok()) << name;
    ASSERT_TRUE(c.publish(topic_of("other"), "forbidden"));
    ASSERT_TRUE(c.publish(topic_of("c1"), std::string("from ") + name));
    auto got = in->receive_until(std::string("from ") + name);
    ASSERT_TRUE(got.has_value()) << name;
    EXPECT_EQ(*got, std::vector<std::string>{std::string("from ") + name});
  }

  // A second reconcile finds nothing to do but the missing clients, and sends no change.
  const uint64_t failed = dynsec_.stats().commands_failed;
  report = dynsec_.reconcile(
      {{"keep", {"c1"}}, {"broken", {"c1"}}, {"lost", {"c1"}}, {"never-made", {"c1"}}});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->things_in_broker, 3u);  // keep, broken, and lost's role
  EXPECT_TRUE(report->removed.empty());
  EXPECT_TRUE(report->repaired.empty());
  EXPECT_EQ(report->missing_clients.size(), 2u);
  EXPECT_EQ(dynsec_.stats().commands_failed, failed);
}

// Provisions `n` things with one channel each in one put_things and prints the time; then a
// few of them connect and publish to the ingest client, which `make_ingest` connects only after
// the bulk (nothing would answer its keep-alive pings meanwhile).
void provision_in_bulk(Mosquitto& broker, Dynsec& dynsec, size_t n,
                       const std::function<std::unique_ptr<Client>()>& make_ingest) {
  std::vector<ThingSpec> things;
  for (size_t i = 0; i < n; ++i) {
    things.push_back({"bulk-" + std::to_string(i),
                      "key-" + std::to_string(i),
                      {"ch-" + std::to_string(i % 50)}});
  }
  const auto start = std::chrono::steady_clock::now();
  Status st = dynsec.put_things(things);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(st.ok()) << st.to_string();
  const DynsecStats stats = dynsec.stats();
  std::cout << "[dynsec] put_things of " << n << " new things: " << took.count() << " s, "
            << stats.commands_sent << " commands in " << stats.messages_sent << " messages\n";
  EXPECT_EQ(stats.commands_failed, 0u);

  std::unique_ptr<Client> in = make_ingest();
  for (size_t i : {size_t{0}, n / 2, n - 1}) {
    Client c(broker, things[i].id, *things[i].key);
    ASSERT_TRUE(c.connect().ok()) << things[i].id;
    ASSERT_TRUE(c.publish(topic_of(things[i].channels[0]), "hello from " + things[i].id));
    auto got = in->receive_until("hello from " + things[i].id);
    EXPECT_TRUE(got.has_value()) << things[i].id;
  }
  Client wrong(broker, things[1].id, *things[2].key);
  EXPECT_FALSE(wrong.connect().ok());
}

TEST_F(DynsecTest, ThousandThingsProvisionInBulk) {
  provision_in_bulk(broker_, dynsec_, 1000, [this] { return ingest(); });

  // A reconcile reads them back over two pages of listRoles and listClients and finds nothing
  // to do.
  std::vector<DesiredThing> desired;
  for (size_t i = 0; i < 1000; ++i) {
    desired.push_back({"bulk-" + std::to_string(i), {"ch-" + std::to_string(i % 50)}});
  }
  const auto start = std::chrono::steady_clock::now();
  Result<ReconcileReport> report = dynsec_.reconcile(desired);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  std::cout << "[dynsec] reconcile of 1000 things in step: " << took.count() << " s\n";
  EXPECT_EQ(report->things_in_broker, 1000u);
  EXPECT_TRUE(report->removed.empty());
  EXPECT_TRUE(report->repaired.empty());
  EXPECT_TRUE(report->missing_clients.empty());
}

TEST_F(DynsecTest, CommandsAfterBrokerRestartReconnect) {
  ASSERT_TRUE(dynsec_.put_thing("t1", "key-1", {"c1"}).ok());
  broker_.kill();
  Status st = dynsec_.put_thing("t2", "key-2", {"c1"});
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
  broker_.start();  // the plugin reads its file again: t1 is still there

  st = dynsec_.put_thing("t2", "key-2", {"c1"});
  ASSERT_TRUE(st.ok()) << st.to_string();
  for (const char* id : {"t1", "t2"}) {
    Client c(broker_, id, std::string("key-") + (id + 1));
    EXPECT_TRUE(c.connect().ok()) << id;
  }
  EXPECT_GE(dynsec_.stats().connects, 2u);

  // A connection lost while idle is replaced within the call, which then succeeds.
  broker_.kill();
  broker_.start();
  st = dynsec_.put_thing("t3", "key-3", {"c1"});
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_GE(dynsec_.stats().connects, 3u);
}

TEST_F(DynsecTest, PutsFromManyThreadsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "th-" + std::to_string(t) + "-" + std::to_string(i);
        if (!dynsec_.put_thing(id, "key-" + id, {"c" + std::to_string(t)}).ok()) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    const std::string id = "th-" + std::to_string(t) + "-" + std::to_string(kEach - 1);
    Client c(broker_, id, "key-" + id);
    EXPECT_TRUE(c.connect().ok()) << id;
    EXPECT_LT(c.subscribe(topic_of("c" + std::to_string(t), "#")), 0x80) << id;
  }
}

}  // namespace
}  // namespace sluice::platform
