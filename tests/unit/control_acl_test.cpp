// Access control lists (control/acl.h): every key read from JSON (the REST API's form) and from
// an [[acls]] table of the config file; each error names its key (and, in the file, its line);
// an ACL that grants nothing is refused; to_json reads back to the same ACL; a user is granted by
// name or role, a service by name or type, and never one kind by the other's lists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control/acl.h"
#include "runtime/config.h"
#include "runtime/source_types.h"

namespace sluice::control {
namespace {

using nlohmann::json;
using runtime::Caller;
using ::testing::HasSubstr;

std::string error_of(const json& j) {
  Result<Acl> r = acl_from_json(j, "acls[0]");
  EXPECT_FALSE(r.ok()) << "expected an error for " << j.dump();
  return r.ok() ? std::string() : r.status().message();
}

TEST(ControlAcl, EveryKeyIsReadFromJson) {
  Result<Acl> r = acl_from_json(json::parse(R"({
    "name": "line-1.ops", "description": "who may drive line 1",
    "services": ["plant-bus"], "service_types": ["notification"],
    "users": ["ada"], "roles": ["operator", "admin"]})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->name, "line-1.ops");
  EXPECT_EQ(r->description, "who may drive line 1");
  EXPECT_EQ(r->services, std::vector<std::string>{"plant-bus"});
  EXPECT_EQ(r->service_types, std::vector<std::string>{"notification"});
  EXPECT_EQ(r->users, std::vector<std::string>{"ada"});
  EXPECT_EQ(r->roles, (std::vector<std::string>{"operator", "admin"}));
}

TEST(ControlAcl, AMissingNameIsAnErrorAtName) {
  EXPECT_THAT(error_of({{"users", {"ada"}}}), HasSubstr("key 'acls[0].name': missing"));
}

TEST(ControlAcl, ANameWithOtherCharactersIsRefused) {
  const std::string e = error_of({{"name", "line 1"}, {"users", {"ada"}}});
  EXPECT_THAT(e, HasSubstr("key 'acls[0].name': expected a name of 1 to 100 characters"));
  EXPECT_THAT(e, HasSubstr("\"line 1\""));
}

TEST(ControlAcl, AnAclThatGrantsNothingIsRefusedBecauseItWouldRefuseEveryone) {
  EXPECT_THAT(error_of({{"name", "nobody"}}),
              HasSubstr("key 'acls[0].name': ACL 'nobody' grants nothing, so it would refuse "
                        "every caller"));
  EXPECT_THAT(error_of({{"name", "nobody"}, {"users", json::array()}}),
              HasSubstr("grants nothing"));
}

TEST(ControlAcl, EachListsErrorNamesItsKey) {
  EXPECT_THAT(error_of({{"name", "a"}, {"users", {"ada", ""}}}),
              HasSubstr("key 'acls[0].users': expected an array of user names"));
  EXPECT_THAT(error_of({{"name", "a"}, {"roles", "operator"}}),
              HasSubstr("key 'acls[0].roles': expected an array of role names"));
  EXPECT_THAT(error_of({{"name", "a"}, {"users", {"ada"}}, {"services", {1}}}),
              HasSubstr("key 'acls[0].services'"));
  EXPECT_THAT(error_of({{"name", "a"}, {"users", {"ada"}}, {"service_types", {"a\nb"}}}),
              HasSubstr("key 'acls[0].service_types'"));
  EXPECT_THAT(error_of({{"name", "a"}, {"users", {"ada"}}, {"description", 3}}),
              HasSubstr("key 'acls[0].description': expected a string"));
}

TEST(ControlAcl, AListLongerThanTheLimitIsRefused) {
  json users = json::array();
  for (size_t i = 0; i <= kMaxAclEntries; ++i) users.push_back("u" + std::to_string(i));
  EXPECT_THAT(error_of({{"name", "a"}, {"users", users}}),
              HasSubstr("key 'acls[0].users': 1001 entries; an ACL lists at most 1000"));
}

TEST(ControlAcl, AnUnknownKeyIsReportedWithTheKnownOnes) {
  const std::string e = error_of({{"name", "a"}, {"user", {"ada"}}, {"roles", {"admin"}}});
  EXPECT_THAT(e, HasSubstr("key 'acls[0].user': unknown key"));
}

TEST(ControlAcl, ANonObjectIsRefused) {
  EXPECT_THAT(error_of(json::array()), HasSubstr("acls[0]: expected a JSON object"));
}

TEST(ControlAcl, ToJsonReadsBackToTheSameAcl) {
  const Acl acl{"ops", "operators", {"bus"}, {"mqtt"}, {"ada"}, {"operator"}};
  Result<Acl> back = acl_from_json(to_json(acl));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, acl);
}

TEST(ControlAcl, AUserIsGrantedByNameOrRole) {
  const Acl acl{"ops", "", {}, {}, {"ada"}, {"operator"}};
  EXPECT_TRUE(grants(acl, Caller::user("ada", "viewer")));
  EXPECT_TRUE(grants(acl, Caller::user("otto", "operator")));
  EXPECT_FALSE(grants(acl, Caller::user("vera", "viewer")));
  EXPECT_FALSE(grants(acl, Caller::user("Ada", "Operator")));  // exact, case-sensitive
}

TEST(ControlAcl, AServiceIsGrantedByNameOrType) {
  const Acl acl{"bus", "", {"plant-bus"}, {"notification"}, {}, {}};
  EXPECT_TRUE(grants(acl, Caller::service("plant-bus", "mqtt")));
  EXPECT_TRUE(grants(acl, Caller::service("overheat", "notification")));
  EXPECT_FALSE(grants(acl, Caller::service("other-bus", "mqtt")));
}

TEST(ControlAcl, OneKindOfCallerIsNeverGrantedByTheOthersLists) {
  // A user who happens to be named like a granted service, or whose role reads like a granted
  // type, is not granted; nor a service named like a granted user.
  const Acl for_services{"s", "", {"ada"}, {"operator"}, {}, {}};
  EXPECT_FALSE(grants(for_services, Caller::user("ada", "operator")));
  const Acl for_users{"u", "", {}, {}, {"plant-bus"}, {"mqtt"}};
  EXPECT_FALSE(grants(for_users, Caller::service("plant-bus", "mqtt")));
}

TEST(ControlAcl, TheConfigFilesTableIsReadByTheSameCodeWithLineAndKey) {
  runtime::SourceTypes types;
  types.add_document({"acls", [](runtime::ConfigTable& t) { (void)read_acl(t); }});
  const std::string text = R"([store]
dir = "data"

[[acls]]
name = "ops"
users = ["ada"]

[[acls]]
name = "bad"
roles = ["operator", ""]
users = ["bo"]
)";
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> r = runtime::parse_config(text, "plant.toml", types, &errors);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(errors.size(), 1u) << r.status().message();
  EXPECT_EQ(errors[0].key, "acls[1].roles");
  EXPECT_EQ(errors[0].line, 10);
  EXPECT_THAT(errors[0].to_string(), HasSubstr("plant.toml:10:"));

  // The good table, kept as JSON by the parser, reads back through acl_from_json.
  const std::string good = R"([store]
dir = "data"
[[acls]]
name = "ops"
users = ["ada"]
roles = ["operator"]
)";
  Result<runtime::Config> ok = runtime::parse_config(good, "plant.toml", types);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok->documents.size(), 1u);
  Result<Acl> acl = acl_from_json(json::parse(ok->documents[0].json));
  ASSERT_TRUE(acl.ok()) << acl.status().message();
  EXPECT_EQ(acl->users, std::vector<std::string>{"ada"});
  EXPECT_EQ(acl->roles, std::vector<std::string>{"operator"});
}

}  // namespace
}  // namespace sluice::control
