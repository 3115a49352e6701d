// The device registry (platform/registry.h) on a real SQLite file: keys shown once and found by
// their hash, rotation, organizations that see only their own things, connections as the access
// policy (same organization only, bulk, all or nothing), paging and filters, the change feed the
// MQTT adapter mirrors, and everything still there after a reopen.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures/test_support.h"
#include "platform/registry.h"

namespace sluice::platform {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    registry_.reset();
    auto r = Registry::open(dir_.file("state.db"), clock_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    registry_ = std::move(r).value();
    registry_->add_listener([this](const ThingChange& c) { changes_.push_back(c); });
  }
  IssuedThing make_thing(const Scope& scope, const std::string& name) {
    auto made = registry_->create_things(scope, {NewThing{.name = name}});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? (*made)[0] : IssuedThing{};
  }
  Channel make_channel(const Scope& scope, const std::string& name) {
    auto made = registry_->create_channels(scope, {NewChannel{.name = name}});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? (*made)[0] : Channel{};
  }

  testing::TempDir dir_;
  ManualClock clock_{1'700'000'000'000'000'000};
  std::unique_ptr<Registry> registry_;
  std::vector<ThingChange> changes_;
  const Scope admin_ = Scope::everything();
};

TEST_F(RegistryTest, AThingsKeyIsShownOnceAndAuthenticatesIt) {
  const IssuedThing t = make_thing(admin_, "boiler-1");
  EXPECT_EQ(t.key.size(), kKeyHexLength);
  EXPECT_EQ(t.thing.key_hint, t.key.substr(0, 4));
  EXPECT_EQ(t.thing.org, kPlatformOrg);
  auto who = registry_->authenticate(t.key);
  ASSERT_TRUE(who.ok()) << who.status().to_string();
  EXPECT_EQ(who->id, t.thing.id);
  EXPECT_EQ(who->name, "boiler-1");
  // The stored thing never carries the key; a wrong or malformed key is refused.
  const auto stored = registry_->get_thing(admin_, t.thing.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->key_hint, t.key.substr(0, 4));
  std::string wrong = t.key;
  wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(registry_->authenticate(wrong).status().code(), Code::kUnauthenticated);
  EXPECT_THAT(registry_->authenticate("short").status().message(), HasSubstr("not a thing key"));
}

TEST_F(RegistryTest, RotatingAKeyStopsTheOldOneAtOnce) {
  const IssuedThing t = make_thing(admin_, "pump");
  auto rotated = registry_->rotate_key(admin_, t.thing.id);
  ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
  EXPECT_NE(rotated->key, t.key);
  EXPECT_EQ(registry_->authenticate(t.key).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(registry_->authenticate(rotated->key).ok());
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_.back().key, rotated->key);  // the broker is told the new key
}

TEST_F(RegistryTest, AMemberSeesOnlyTheirOrganizationsEntities) {
  ASSERT_TRUE(registry_->create_org(admin_, "acme", json::object(), "acme").ok());
  ASSERT_TRUE(registry_->create_org(admin_, "globex", json::object(), "globex").ok());
  const Scope acme = Scope::of("acme");
  const Scope globex = Scope::of("globex");
  const IssuedThing a = make_thing(acme, "a-sensor");
  const IssuedThing g = make_thing(globex, "g-sensor");
  EXPECT_EQ(a.thing.org, "acme");

  auto acme_list = registry_->list_things(acme, {});
  ASSERT_TRUE(acme_list.ok());
  ASSERT_EQ(acme_list->total, 1u);
  EXPECT_EQ(acme_list->items[0].name, "a-sensor");
  EXPECT_EQ(registry_->list_things(admin_, {})->total, 2u);  // the platform sees all
  // Another organization's thing is not found, whatever the call.
  EXPECT_EQ(registry_->get_thing(acme, g.thing.id).status().code(), Code::kNotFound);
  EXPECT_EQ(registry_->remove_thing(acme, g.thing.id).code(), Code::kNotFound);
  EXPECT_EQ(registry_->rotate_key(acme, g.thing.id).status().code(), Code::kNotFound);
  EXPECT_EQ(registry_->get_org(acme, "globex").status().code(), Code::kNotFound);
  EXPECT_EQ(registry_->list_orgs(acme, {})->total, 1u);
  // A member creates only in their own organization, and cannot make organizations.
  auto elsewhere = registry_->create_things(acme, {NewThing{.org = "globex", .name = "x"}});
  EXPECT_EQ(elsewhere.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(registry_->create_org(acme, "mine", json::object()).status().code(),
            Code::kPermissionDenied);
  // The platform may create in any organization that exists.
  auto placed = registry_->create_things(admin_, {NewThing{.org = "globex", .name = "y"}});
  ASSERT_TRUE(placed.ok());
  EXPECT_EQ((*placed)[0].thing.org, "globex");
  EXPECT_EQ(
      registry_->create_things(admin_, {NewThing{.org = "nope", .name = "z"}}).status().code(),
      Code::kNotFound);
}

TEST_F(RegistryTest, ConnectionsAreTheAccessPolicyWithinOneOrganization) {
  ASSERT_TRUE(registry_->create_org(admin_, "acme", json::object(), "acme").ok());
  const IssuedThing t1 = make_thing(admin_, "t1");
  const IssuedThing t2 = make_thing(admin_, "t2");
  const Channel c1 = make_channel(admin_, "c1");
  const Channel c2 = make_channel(admin_, "c2");
  const Channel foreign = make_channel(Scope::of("acme"), "acme-channel");
  changes_.clear();

  ASSERT_TRUE(registry_->connect(admin_, {t1.thing.id, t2.thing.id}, {c1.id, c2.id}).ok());
  EXPECT_TRUE(registry_->connected(t1.thing.id, c1.id));
  EXPECT_TRUE(registry_->connected(t2.thing.id, c2.id));
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[0].channels.size(), 2u);
  EXPECT_FALSE(changes_[0].key.has_value());  // a connection change tells no key

  ASSERT_TRUE(registry_->disconnect(admin_, {t1.thing.id}, {c1.id}).ok());
  EXPECT_FALSE(registry_->connected(t1.thing.id, c1.id));
  EXPECT_THAT(registry_->channels_of(t1.thing.id), ElementsAre(c2.id));

  // Across organizations: refused, and nothing of the request is connected.
  const Status cross = registry_->connect(admin_, {t1.thing.id}, {c1.id, foreign.id});
  EXPECT_EQ(cross.code(), Code::kFailedPrecondition);
  EXPECT_THAT(cross.message(), HasSubstr("not of the same organization"));
  EXPECT_FALSE(registry_->connected(t1.thing.id, c1.id));
  // An unknown id refuses the whole request, naming it.
  const Status unknown = registry_->connect(admin_, {t1.thing.id}, {c1.id, "nope"});
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("'nope'"));
  EXPECT_FALSE(registry_->connected(t1.thing.id, c1.id));

  // Lists filtered by connection.
  ListQuery q;
  q.connected_to = c2.id;
  EXPECT_EQ(registry_->list_things(admin_, q)->total, 2u);
  q.connected_to = t1.thing.id;
  auto chans = registry_->list_channels(admin_, q);
  ASSERT_TRUE(chans.ok());
  ASSERT_EQ(chans->total, 1u);
  EXPECT_EQ(chans->items[0].id, c2.id);

  // Removing a channel removes its connections, and the broker hears of each thing.
  changes_.clear();
  ASSERT_TRUE(registry_->remove_channel(admin_, c2.id).ok());
  EXPECT_FALSE(registry_->connected(t2.thing.id, c2.id));
  EXPECT_EQ(changes_.size(), 2u);
  ASSERT_TRUE(registry_->remove_thing(admin_, t1.thing.id).ok());
  EXPECT_EQ(changes_.back().kind, ThingChange::Kind::kRemoved);
  EXPECT_EQ(registry_->authenticate(t1.key).status().code(), Code::kUnauthenticated);
}

TEST_F(RegistryTest, ABulkCreateIsAllOrNothingAndNamesTheBadEntry) {
  std::vector<NewThing> batch(5);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].name = "sensor-" + std::to_string(i);
  batch[3].metadata = json::array();
  auto bad = registry_->create_things(admin_, batch);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("things[3].metadata"));
  EXPECT_EQ(registry_->thing_count(), 0u);

  batch[3].metadata = json{{"room", "B12"}};
  batch[4].id = "dup";
  batch[2].id = "dup";
  auto dup = registry_->create_things(admin_, batch);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_THAT(dup.status().message(), HasSubstr("things[4]"));
  EXPECT_EQ(registry_->thing_count(), 0u);  // the first three were rolled back

  batch[4].id.clear();
  auto ok = registry_->create_things(admin_, batch);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->size(), 5u);
  EXPECT_EQ(registry_->get_thing(admin_, "dup")->metadata, json::object());
  EXPECT_EQ(registry_->get_thing(admin_, (*ok)[3].thing.id)->metadata["room"], "B12");
}

TEST_F(RegistryTest, ListsPageAndFilterByName) {
  std::vector<NewThing> batch(25);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].name = (i % 5 == 0 ? "Pump-" : "valve-") + std::to_string(i);
    clock_.advance(1000);
  }
  ASSERT_TRUE(registry_->create_things(admin_, batch).ok());
  ListQuery q;
  q.limit = 10;
  q.offset = 20;
  auto page = registry_->list_things(admin_, q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 25u);
  EXPECT_EQ(page->items.size(), 5u);
  q = ListQuery{};
  q.name = "pump";  // case-insensitive
  auto pumps = registry_->list_things(admin_, q);
  ASSERT_TRUE(pumps.ok());
  EXPECT_EQ(pumps->total, 5u);
  q = ListQuery{};
  q.limit = 0;
  EXPECT_THAT(registry_->list_things(admin_, q).status().message(), HasSubstr("limit"));
}

TEST_F(RegistryTest, EverythingIsThereAfterAReopen) {
  ASSERT_TRUE(registry_->create_org(admin_, "acme", json{{"site", "Basel"}}, "acme").ok());
  const IssuedThing t = make_thing(Scope::of("acme"), "reactor");
  const Channel c = make_channel(Scope::of("acme"), "telemetry");
  ASSERT_TRUE(registry_->connect(Scope::of("acme"), {t.thing.id}, {c.id}).ok());
  auto rotated = registry_->rotate_key(admin_, t.thing.id);
  ASSERT_TRUE(rotated.ok());
  reopen();
  EXPECT_TRUE(registry_->connected(t.thing.id, c.id));
  auto who = registry_->authenticate(rotated->key);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->org, "acme");
  EXPECT_FALSE(registry_->authenticate(t.key).ok());
  EXPECT_EQ(registry_->get_org(admin_, "acme")->metadata["site"], "Basel");
  EXPECT_EQ(registry_->channel_info(c.id)->second, "telemetry");
}

TEST_F(RegistryTest, AnOrganizationWithThingsOrThePlatformsOwnCannotBeRemoved) {
  ASSERT_TRUE(registry_->create_org(admin_, "acme", json::object(), "acme").ok());
  const IssuedThing t = make_thing(Scope::of("acme"), "x");
  const Status busy = registry_->remove_org(admin_, "acme");
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition);
  EXPECT_THAT(busy.message(), HasSubstr("things"));
  ASSERT_TRUE(registry_->remove_thing(admin_, t.thing.id).ok());
  EXPECT_TRUE(registry_->remove_org(admin_, "acme").ok());
  EXPECT_EQ(registry_->remove_org(admin_, std::string(kPlatformOrg)).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(registry_->create_org(admin_, "PLATFORM", json::object()).status().code(),
            Code::kAlreadyExists);  // names are unique, whatever their case
}

TEST_F(RegistryTest, BadNamesAndIdsAreRefusedNamingTheField) {
  EXPECT_THAT(registry_->create_things(admin_, {NewThing{.name = ""}}).status().message(),
              HasSubstr("name: missing"));
  EXPECT_THAT(registry_->create_things(admin_, {NewThing{.name = std::string(200, 'x')}})
                  .status()
                  .message(),
              HasSubstr("at most 128"));
  EXPECT_THAT(registry_->create_channels(admin_, {NewChannel{.name = "a\nb"}}).status().message(),
              HasSubstr("control character"));
  EXPECT_THAT(
      registry_->create_things(admin_, {NewThing{.name = "ok", .id = "a/b"}}).status().message(),
      HasSubstr("id: 'a/b' is not an id"));
  EXPECT_THAT(registry_->create_things(admin_, {NewThing{.name = "ok", .key = "secret"}})
                  .status()
                  .message(),
              HasSubstr("key: a thing key is 64"));
}

}  // namespace
}  // namespace sluice::platform
