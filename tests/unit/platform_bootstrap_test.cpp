// Device bootstrap configs (platform/bootstrap.h) on a real SQLite file beside the registry:
// a generated external key shown once and kept only as its hash, a config that creates its
// thing or maps to one, channels connected and disconnected with the list, organizations that
// see only their own configs, the refusals of bootstrap() and their counters, the thing key
// rotated at every bootstrap, everything still there after a reopen, and the AES-256-GCM
// sealing of the encrypted answer (round trip, tampering, another key, the key file), and the
// fuzz corpus of the config body and sealed-answer parsers, replayed and mutated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "auth/auth_db.h"
#include "auth/crypto.h"
#include "fixtures/test_support.h"
#include "fuzz/bootstrap_targets.h"
#include "platform/bootstrap.h"

namespace sluice::platform {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    store_.reset();
    registry_.reset();
    auto r = Registry::open(dir_.file("state.db"), clock_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    registry_ = std::move(r).value();
    auto s = BootstrapStore::open(dir_.file("state.db"), *registry_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  Channel make_channel(const Scope& scope, const std::string& name, json metadata = {}) {
    NewChannel c{.name = name};
    if (metadata.is_object()) c.metadata = metadata;
    auto made = registry_->create_channels(scope, {c});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? (*made)[0] : Channel{};
  }
  CreatedBootstrap make(const Scope& scope, NewBootstrap n) {
    auto made = store_->create(scope, std::move(n));
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? *made : CreatedBootstrap{};
  }

  testing::TempDir dir_;
  ManualClock clock_{1'700'000'000'000'000'000};
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<BootstrapStore> store_;
  const Scope admin_ = Scope::everything();
  const std::string key_ = "factory-secret-0001";
};

TEST_F(BootstrapTest, AGeneratedExternalKeyIsShownOnceAndStoredOnlyAsItsHash) {
  const size_t things_before = registry_->thing_count();
  const CreatedBootstrap made =
      make(admin_, {.external_id = "00:1a:2b:3c:4d:5e", .name = "press-7"});
  ASSERT_TRUE(made.external_key.has_value());
  const std::string key = *made.external_key;
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(made.config.key_hint, key.substr(0, 4));
  EXPECT_TRUE(made.config.enabled);
  EXPECT_EQ(made.config.org, kPlatformOrg);
  // A thing named after the config was created in the registry.
  EXPECT_EQ(registry_->thing_count(), things_before + 1);
  auto thing = registry_->get_thing(admin_, made.config.thing_id);
  ASSERT_TRUE(thing.ok()) << thing.status().to_string();
  EXPECT_EQ(thing->name, "press-7");

  // The database holds the SHA-256 and the hint, never the key itself.
  auto db = auth::AuthDb::open(dir_.file("state.db"));
  ASSERT_TRUE(db.ok());
  std::lock_guard lock((*db)->mu());
  auth::Stmt s((*db)->handle(), "SELECT * FROM platform_bootstrap");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s.step(), SQLITE_ROW);
  bool hash_found = false;
  for (int col = 0; col < 11; ++col) {  // every column of the table
    const std::string v = s.blob(col);
    EXPECT_EQ(v.find(key), std::string::npos) << "column " << col << " holds the key";
    if (v == auth::sha256(key)) hash_found = true;
  }
  EXPECT_TRUE(hash_found);
  // The key works; a given key is not answered back.
  EXPECT_TRUE(store_->bootstrap("00:1a:2b:3c:4d:5e", key).ok());
  const CreatedBootstrap given =
      make(admin_, {.external_id = "SN-0002", .external_key = key_, .name = "press-8"});
  EXPECT_FALSE(given.external_key.has_value());
  EXPECT_EQ(given.config.key_hint, key_.substr(0, 4));
}

TEST_F(BootstrapTest, AConfigMapsToAnExistingThingAndConnectsItToItsChannels) {
  auto org = registry_->create_org(admin_, "acme", json::object(), "acme");
  ASSERT_TRUE(org.ok());
  const Scope acme = Scope::of("acme");
  auto t = registry_->create_things(acme, {NewThing{.name = "meter"}});
  ASSERT_TRUE(t.ok());
  const std::string thing = (*t)[0].thing.id;
  const Channel a = make_channel(acme, "a");
  const Channel b = make_channel(acme, "b");
  // A platform member, without naming the org: the thing's org is the config's.
  const CreatedBootstrap made = make(admin_, {.external_id = "SN-1",
                                              .external_key = key_,
                                              .name = "meter",
                                              .thing_id = thing,
                                              .channels = {a.id, b.id},
                                              .content = {{"poll", "5s"}}});
  EXPECT_EQ(made.config.org, "acme");
  EXPECT_EQ(made.config.thing_id, thing);
  EXPECT_THAT(registry_->channels_of(thing), UnorderedElementsAre(a.id, b.id));

  // A new list replaces the old: connected to the new, disconnected from the dropped.
  const Channel c = make_channel(acme, "c");
  auto u = store_->update(acme, "SN-1", {.channels = std::vector<std::string>{b.id, c.id}});
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_THAT(u->channels, ElementsAre(b.id, c.id));
  EXPECT_THAT(registry_->channels_of(thing), UnorderedElementsAre(b.id, c.id));
  // A new thing is connected to the channels; the old one keeps its connections.
  auto t2 = registry_->create_things(acme, {NewThing{.name = "meter-2"}});
  ASSERT_TRUE(t2.ok());
  const std::string thing2 = (*t2)[0].thing.id;
  u = store_->update(acme, "SN-1", {.name = "meter v2", .thing_id = thing2});
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->thing_id, thing2);
  EXPECT_EQ(u->name, "meter v2");
  EXPECT_THAT(registry_->channels_of(thing2), UnorderedElementsAre(b.id, c.id));
  EXPECT_THAT(registry_->channels_of(thing), UnorderedElementsAre(b.id, c.id));

  // Removing the config leaves its thing.
  ASSERT_TRUE(store_->remove(acme, "SN-1").ok());
  EXPECT_EQ(store_->get(acme, "SN-1").status().code(), Code::kNotFound);
  EXPECT_TRUE(registry_->get_thing(acme, thing2).ok());
}

TEST_F(BootstrapTest, BadConfigsAreRefusedByFieldAndCreateNothing) {
  const Channel ch = make_channel(admin_, "line-1");
  ASSERT_TRUE(store_->create(admin_, {.external_id = "SN-1", .name = "x"}).ok());
  const size_t things = registry_->thing_count();
  const auto refused = [&](NewBootstrap n, Code code, const std::string& text) {
    auto r = store_->create(admin_, std::move(n));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    EXPECT_THAT(r.status().message(), HasSubstr(text));
  };
  refused({.external_id = "SN-1", .name = "x"}, Code::kAlreadyExists, "external_id");
  refused({.external_id = "", .name = "x"}, Code::kInvalidArgument, "external_id");
  refused({.external_id = "a/b", .name = "x"}, Code::kInvalidArgument, "external_id");
  refused({.external_id = "a b", .name = "x"}, Code::kInvalidArgument, "external_id");
  refused({.external_id = std::string(257, 'a'), .name = "x"}, Code::kInvalidArgument,
          "external_id");
  refused({.external_id = "SN-2", .external_key = "short", .name = "x"}, Code::kInvalidArgument,
          "external_key");
  refused({.external_id = "SN-2", .name = ""}, Code::kInvalidArgument, "name");
  refused({.external_id = "SN-2", .name = "x", .channels = {ch.id, "nope"}},
          Code::kFailedPrecondition, "channels[1]");
  refused({.external_id = "SN-2", .name = "x", .channels = {ch.id, ch.id}}, Code::kInvalidArgument,
          "channels[1]");
  refused({.external_id = "SN-2", .name = "x", .thing_id = "nope"}, Code::kFailedPrecondition,
          "thing_id");
  refused({.external_id = "SN-2", .name = "x", .content = std::string(1 << 20, 'x')},
          Code::kInvalidArgument, "content");
  // A thing can be bootstrapped by one config only.
  const std::string taken = store_->get(admin_, "SN-1")->thing_id;
  refused({.external_id = "SN-2", .name = "x", .thing_id = taken}, Code::kAlreadyExists,
          "already bootstrapped by config 'SN-1'");
  EXPECT_EQ(registry_->thing_count(), things);
  EXPECT_EQ(store_->list(admin_, {})->total, 1u);
}

TEST_F(BootstrapTest, AMemberSeesAndChangesOnlyItsOrganizationsConfigs) {
  ASSERT_TRUE(registry_->create_org(admin_, "acme", json::object(), "acme").ok());
  ASSERT_TRUE(registry_->create_org(admin_, "zeta", json::object(), "zeta").ok());
  const Scope acme = Scope::of("acme");
  const Scope zeta = Scope::of("zeta");
  const Channel zeta_channel = make_channel(zeta, "z");
  const CreatedBootstrap mine = make(acme, {.external_id = "SN-A", .name = "a"});
  EXPECT_EQ(mine.config.org, "acme");
  EXPECT_EQ(registry_->get_thing(acme, mine.config.thing_id)->org, "acme");
  make(zeta, {.external_id = "SN-Z", .name = "z"});

  EXPECT_EQ(store_->get(zeta, "SN-A").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->update(zeta, "SN-A", {.name = "mine now"}).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->set_state(zeta, "SN-A", false).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->remove(zeta, "SN-A").code(), Code::kNotFound);
  auto listed = store_->list(zeta, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->total, 1u);
  EXPECT_EQ(listed->items[0].external_id, "SN-Z");
  EXPECT_EQ(store_->list(admin_, {})->total, 2u);
  EXPECT_EQ(store_->list(admin_, {.org = "acme"})->total, 1u);
  // Another org's channel or thing is as absent as an unknown one; so is creating there.
  auto r =
      store_->create(acme, {.external_id = "SN-B", .name = "b", .channels = {zeta_channel.id}});
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("no channel with id"));
  r = store_->create(acme, {.external_id = "SN-B", .org = "zeta", .name = "b"});
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  // A platform member cannot mix organizations either.
  r = store_->create(
      admin_, {.external_id = "SN-B", .org = "acme", .name = "b", .channels = {zeta_channel.id}});
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("organization 'zeta'"));
  EXPECT_TRUE(store_->get(acme, "SN-A").ok());
}

TEST_F(BootstrapTest, EachBootstrapRotatesTheThingsKeySoTheOldOneStops) {
  const Channel ch = make_channel(admin_, "line-1", {{"unit", "bar"}});
  const CreatedBootstrap made = make(admin_, {.external_id = "SN-1",
                                              .external_key = key_,
                                              .name = "press",
                                              .channels = {ch.id},
                                              .content = {{"poll", "5s"}, {"tags", {1, 2}}}});
  auto first = store_->bootstrap("SN-1", key_);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->thing_id, made.config.thing_id);
  ASSERT_EQ(first->channels.size(), 1u);
  EXPECT_EQ(first->channels[0].id, ch.id);
  EXPECT_EQ(first->channels[0].name, "line-1");
  EXPECT_EQ(first->channels[0].metadata, json({{"unit", "bar"}}));
  EXPECT_EQ(first->content, json({{"poll", "5s"}, {"tags", {1, 2}}}));
  auto who = registry_->authenticate(first->thing_key);
  ASSERT_TRUE(who.ok()) << who.status().to_string();
  EXPECT_EQ(who->id, made.config.thing_id);
  EXPECT_TRUE(registry_->connected(who->id, ch.id));

  auto second = store_->bootstrap("SN-1", key_);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_NE(second->thing_key, first->thing_key);
  EXPECT_EQ(registry_->authenticate(first->thing_key).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(registry_->authenticate(second->thing_key).ok());
  const json j = answer_json(*second);
  EXPECT_EQ(j["thing_key"], second->thing_key);
  EXPECT_EQ(j["channels"][0]["name"], "line-1");
  EXPECT_EQ(store_->stats().bootstrapped, 2u);
}

TEST_F(BootstrapTest, RefusalsSayWhyAndAreCountedByReason) {
  make(admin_, {.external_id = "SN-1", .external_key = key_, .name = "press"});
  EXPECT_EQ(store_->bootstrap("SN-1", "").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(store_->bootstrap("SN-9", key_).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->bootstrap("SN-1", key_ + "x").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(store_->bootstrap("SN-1", key_.substr(1)).status().code(), Code::kPermissionDenied);
  auto off = store_->set_state(admin_, "SN-1", false);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
  auto refused = store_->bootstrap("SN-1", key_);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("is off"));
  // A wrong key is refused as such even while off: the state is not told to strangers.
  EXPECT_EQ(store_->bootstrap("SN-1", "another-secret-123").status().code(),
            Code::kPermissionDenied);
  ASSERT_TRUE(store_->set_state(admin_, "SN-1", true).ok());
  EXPECT_TRUE(store_->bootstrap("SN-1", key_).ok());
  // Its thing removed from the registry: the config is there but cannot be served.
  ASSERT_TRUE(registry_->remove_thing(admin_, store_->get(admin_, "SN-1")->thing_id).ok());
  refused = store_->bootstrap("SN-1", key_);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("no longer exists"));

  const BootstrapStats s = store_->stats();
  EXPECT_EQ(s.unauthenticated, 1u);
  EXPECT_EQ(s.unknown, 1u);
  EXPECT_EQ(s.wrong_key, 3u);
  EXPECT_EQ(s.off, 1u);
  EXPECT_EQ(s.no_thing, 1u);
  EXPECT_EQ(s.bootstrapped, 1u);
  EXPECT_EQ(s.failed, 0u);
}

TEST_F(BootstrapTest, ListsPageAndFilterByName) {
  for (int i = 0; i < 5; ++i) {
    clock_.advance(1000);
    make(admin_, {.external_id = "SN-" + std::to_string(i),
                  .name = (i % 2 ? "Pump-" : "valve-") + std::to_string(i)});
  }
  auto page = store_->list(admin_, {.offset = 1, .limit = 2});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 5u);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].external_id, "SN-1");
  EXPECT_EQ(page->items[1].external_id, "SN-2");
  auto pumps = store_->list(admin_, {.name = "pump"});
  ASSERT_TRUE(pumps.ok());
  EXPECT_EQ(pumps->total, 2u);
  EXPECT_EQ(store_->list(admin_, {.limit = 0}).status().code(), Code::kInvalidArgument);
}

TEST_F(BootstrapTest, ConfigsAndKeysSurviveAReopen) {
  const Channel ch = make_channel(admin_, "line-1");
  make(admin_, {.external_id = "SN-1",
                .external_key = key_,
                .name = "press",
                .channels = {ch.id},
                .content = json::array({1, "two", nullptr})});
  ASSERT_TRUE(store_->set_state(admin_, "SN-1", false).ok());
  reopen();
  auto c = store_->get(admin_, "SN-1");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_FALSE(c->enabled);
  EXPECT_THAT(c->channels, ElementsAre(ch.id));
  EXPECT_EQ(c->content, json::array({1, "two", nullptr}));
  ASSERT_TRUE(store_->set_state(admin_, "SN-1", true).ok());
  EXPECT_TRUE(store_->bootstrap("SN-1", key_).ok());
  EXPECT_EQ(store_->bootstrap("SN-1", "wrong-key-of-length").status().code(),
            Code::kPermissionDenied);
}

// ---- Sealing ------------------------------------------------------------------------------------

std::string test_key(char fill) { return std::string(kBootstrapKeyBytes, fill); }

TEST(BootstrapSealTest, AnEncryptedAnswerDecryptsWithItsKeyOnly) {
  const std::string plain = R"({"thing_id":"t","thing_key":"k","channels":[],"content":null})";
  auto sealed = encrypt_answer(test_key('k'), plain);
  ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
  EXPECT_EQ(sealed->size(), kBootstrapNonceBytes + plain.size() + kBootstrapTagBytes);
  EXPECT_EQ(sealed->find("thing_key"), std::string::npos);
  auto opened = decrypt_answer(test_key('k'), *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(*opened, plain);
  // A fresh nonce each time: the same answer never seals to the same bytes.
  EXPECT_NE(*encrypt_answer(test_key('k'), plain), *sealed);
  EXPECT_EQ(decrypt_answer(test_key('j'), *sealed).status().code(), Code::kCorruption);
  // The empty answer round-trips too.
  EXPECT_EQ(*decrypt_answer(test_key('k'), *encrypt_answer(test_key('k'), "")), "");
}

TEST(BootstrapSealTest, AChangeToAnyByteOfNonceCiphertextOrTagFailsToDecrypt) {
  const std::string plain = "a bootstrap answer of some length";
  const std::string sealed = *encrypt_answer(test_key('k'), plain);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = decrypt_answer(test_key('k'), bad);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
  auto cut = decrypt_answer(test_key('k'), sealed.substr(0, sealed.size() - 1));
  EXPECT_EQ(cut.status().code(), Code::kCorruption);
  auto tiny = decrypt_answer(test_key('k'), sealed.substr(0, 20));
  EXPECT_EQ(tiny.status().code(), Code::kCorruption);
  EXPECT_THAT(tiny.status().message(), HasSubstr("20 bytes"));
  EXPECT_EQ(encrypt_answer("short", plain).status().code(), Code::kInvalidArgument);
}

TEST(BootstrapSealTest, TheKeyFileHoldsSixtyFourHexCharacters) {
  testing::TempDir dir;
  const std::string good = dir.file("good.key");
  std::ofstream(good) << std::string(32, 'a') << std::string(32, '0') << "\n";
  auto key = read_bootstrap_key(good);
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(*key, std::string(16, '\xaa') + std::string(16, '\0'));

  const std::string bad = dir.file("bad.key");
  std::ofstream(bad) << "not a key\n";
  auto r = read_bootstrap_key(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("bootstrap_key_file"));
  EXPECT_THAT(r.status().message(), HasSubstr(bad));
  EXPECT_THAT(r.status().message(), HasSubstr("64 hex characters"));
  const std::string nonhex = dir.file("nonhex.key");
  std::ofstream(nonhex) << std::string(63, 'a') << "g";
  EXPECT_THAT(read_bootstrap_key(nonhex).status().message(), HasSubstr("not all hex"));
  auto missing = read_bootstrap_key(dir.file("missing.key"));
  EXPECT_EQ(missing.status().code(), Code::kIoError);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.key"));

  // A store opened with it seals; one without refuses to.
  ManualClock clock;
  auto reg = Registry::open(dir.file("state.db"), clock);
  ASSERT_TRUE(reg.ok());
  auto with = open_bootstrap(dir.file("state.db"), **reg, good, clock);
  ASSERT_TRUE(with.ok()) << with.status().to_string();
  EXPECT_TRUE((*with)->encrypts());
  EXPECT_EQ(*decrypt_answer(*key, *(*with)->seal("x")), "x");
  auto without = open_bootstrap(dir.file("state.db"), **reg, "", clock);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE((*without)->encrypts());
  EXPECT_EQ((*without)->seal("x").status().code(), Code::kFailedPrecondition);
  EXPECT_FALSE(open_bootstrap(dir.file("state.db"), **reg, bad, clock).ok());
}

// ---- Outside bytes (the fuzz body, fuzz/bootstrap_targets.cpp) --------------------------------

std::vector<std::string> fuzz_corpus() {
  const auto dir = std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "bootstrap";
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

int fuzz_run(const std::string& bytes) {
  return fuzz::bootstrap(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(BootstrapFuzzCorpusTest, CorpusAndItsMutationsKeepTheParsersContract) {
  const auto inputs = fuzz_corpus();
  ASSERT_GE(inputs.size(), 5u);
  for (const auto& in : inputs) EXPECT_EQ(fuzz_run(in), 0);
  std::mt19937 rng(8);
  for (int round = 0; round < 2000; ++round) {
    std::string in = inputs[rng() % inputs.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !in.empty(); ++e) {
      const size_t at = rng() % in.size();
      switch (rng() % 3) {
        case 0: in[at] = static_cast<char>(rng()); break;
        case 1: in.erase(at, 1); break;
        default: in.insert(at, 1, "{}[]\",:0a"[rng() % 10]); break;
      }
    }
    ASSERT_EQ(fuzz_run(in), 0) << "round " << round;
  }
}

}  // namespace
}  // namespace sluice::platform
