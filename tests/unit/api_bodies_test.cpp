// The REST API's JSON request bodies (api/bodies.h) without a server: each accepted body gives
// its values, and each wrong field is refused with the field named and the exact message of the
// 400 answer the routes have always sent.
#include <gtest/gtest.h>

#include <string>

#include "api/bodies.h"

namespace sluice::api {
namespace {

// The refusal of `body` by `parse`, as "field: message"; "accepted" if it was accepted.
template <typename Body>
std::string refusal(bool (*parse)(std::string_view, Body*, ParamError*), std::string_view body) {
  Body out;
  ParamError error;
  if (parse(body, &out, &error)) return "accepted";
  return error.field + ": " + error.message;
}

TEST(ApiBodiesTest, LoginGivesUserAndPassword) {
  LoginBody b;
  ParamError e;
  ASSERT_TRUE(parse_login_body(R"({"user": "ada", "password": "p\"w", "extra": 1})", &b, &e));
  EXPECT_EQ(b.user, "ada");
  EXPECT_EQ(b.password, "p\"w");
}

TEST(ApiBodiesTest, AuthBodyThatIsNotAJsonObjectIsRefusedWithoutAField) {
  EXPECT_EQ(refusal(parse_login_body, ""), ": the body is not valid JSON");
  EXPECT_EQ(refusal(parse_login_body, R"({"user": "ada",)"), ": the body is not valid JSON");
  EXPECT_EQ(refusal(parse_login_body, "\xff"), ": the body is not valid JSON");
  EXPECT_EQ(refusal(parse_login_body, R"(["ada"])"), ": the body must be a JSON object");
  EXPECT_EQ(refusal(parse_new_user_body, "null"), ": the body must be a JSON object");
  EXPECT_EQ(refusal(parse_new_token_body, "42"), ": the body must be a JSON object");
}

TEST(ApiBodiesTest, LoginNamesTheMissingOrWrongField) {
  EXPECT_EQ(refusal(parse_login_body, R"({"password": "pw"})"),
            "user: 'user' is required and must be a string");
  EXPECT_EQ(refusal(parse_login_body, R"({"user": 7, "password": "pw"})"),
            "user: 'user' is required and must be a string");
  EXPECT_EQ(refusal(parse_login_body, R"({"user": "ada"})"),
            "password: 'password' is required and must be a string");
  EXPECT_EQ(refusal(parse_login_body, R"({"user": "ada", "password": null})"),
            "password: 'password' is required and must be a string");
}

TEST(ApiBodiesTest, NewUserGivesNamePasswordAndRole) {
  NewUserBody b;
  ParamError e;
  ASSERT_TRUE(
      parse_new_user_body(R"({"name": "op", "password": "pw", "role": "operator"})", &b, &e));
  EXPECT_EQ(b.name, "op");
  EXPECT_EQ(b.password, "pw");
  EXPECT_EQ(b.role, auth::Role::kOperator);
}

TEST(ApiBodiesTest, NewUserNamesEachWrongField) {
  EXPECT_EQ(refusal(parse_new_user_body, R"({"password": "pw", "role": "admin"})"),
            "name: 'name' is required and must be a string");
  EXPECT_EQ(refusal(parse_new_user_body, R"({"name": "op", "password": [], "role": "admin"})"),
            "password: 'password' is required and must be a string");
  EXPECT_EQ(refusal(parse_new_user_body, R"({"name": "op", "password": "pw"})"),
            "role: 'role' is required and must be a string");
  EXPECT_EQ(refusal(parse_new_user_body, R"({"name": "op", "password": "pw", "role": "Admin"})"),
            "role: 'role' must be admin, operator or viewer");
}

TEST(ApiBodiesTest, NewTokenExpiryIsOptionalAndBounded) {
  NewTokenBody b;
  ParamError e;
  ASSERT_TRUE(parse_new_token_body(R"({"user": "ada", "name": "ci"})", &b, &e));
  EXPECT_EQ(b.user, "ada");
  EXPECT_EQ(b.name, "ci");
  EXPECT_FALSE(b.expires_in_days.has_value());
  ASSERT_TRUE(
      parse_new_token_body(R"({"user": "ada", "name": "ci", "expires_in_days": 3650})", &b, &e));
  EXPECT_EQ(b.expires_in_days, 3650);
  ASSERT_TRUE(
      parse_new_token_body(R"({"user": "ada", "name": "ci", "expires_in_days": 1})", &b, &e));
  EXPECT_EQ(b.expires_in_days, 1);
}

TEST(ApiBodiesTest, NewTokenNamesEachWrongField) {
  EXPECT_EQ(refusal(parse_new_token_body, R"({"name": "ci"})"),
            "user: 'user' is required and must be a string");
  EXPECT_EQ(refusal(parse_new_token_body, R"({"user": "ada", "name": false})"),
            "name: 'name' is required and must be a string");
  const std::string days =
      "expires_in_days: 'expires_in_days' must be a whole number from 1 to 3650";
  for (const char* value : {"0", "3651", "-1", "1.5", "\"30\"", "null", "18446744073709551615"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(
        refusal(parse_new_token_body,
                std::string(R"({"user": "ada", "name": "ci", "expires_in_days": )") + value + "}"),
        days);
  }
}

TEST(ApiBodiesTest, ModeIsRunningOrDisabled) {
  ModeBody b;
  ParamError e;
  ASSERT_TRUE(parse_mode_body(R"({"mode": "RUNNING"})", &b, &e));
  EXPECT_TRUE(b.running);
  ASSERT_TRUE(parse_mode_body(R"({"mode": "DISABLED"})", &b, &e));
  EXPECT_FALSE(b.running);
}

TEST(ApiBodiesTest, ModeNamesEachWrongField) {
  EXPECT_EQ(refusal(parse_mode_body, "RUNNING"),
            "body: the body must be a JSON object {\"mode\": \"RUNNING\"}");
  EXPECT_EQ(refusal(parse_mode_body, R"(["RUNNING"])"),
            "body: the body must be a JSON object {\"mode\": \"RUNNING\"}");
  EXPECT_EQ(refusal(parse_mode_body, R"({"mode": "RUNNING", "force": true})"),
            "force: unknown field 'force'");
  EXPECT_EQ(refusal(parse_mode_body, "{}"), "mode: 'mode' must be \"RUNNING\" or \"DISABLED\"");
  EXPECT_EQ(refusal(parse_mode_body, R"({"mode": "running"})"),
            "mode: 'mode' must be \"RUNNING\" or \"DISABLED\"");
  EXPECT_EQ(refusal(parse_mode_body, R"({"mode": 1})"),
            "mode: 'mode' must be \"RUNNING\" or \"DISABLED\"");
}

TEST(ApiBodiesTest, PurgeGivesTheSessionsInOrder) {
  PurgeBody b;
  ParamError e;
  ASSERT_TRUE(parse_purge_body(
      R"({"sessions": [{"stream": "sim", "sink": "lake"}, {"sink": "mqtt", "stream": "plc"}]})", &b,
      &e));
  ASSERT_EQ(b.sessions.size(), 2u);
  EXPECT_EQ(b.sessions[0], (SessionRef{"sim", "lake"}));
  EXPECT_EQ(b.sessions[1], (SessionRef{"plc", "mqtt"}));
}

TEST(ApiBodiesTest, PurgeNamesEachWrongField) {
  EXPECT_EQ(refusal(parse_purge_body, "[]"),
            "body: the body must be a JSON object such as "
            "{\"sessions\": [{\"stream\": \"sim\", \"sink\": \"lake\"}]}");
  EXPECT_EQ(refusal(parse_purge_body, "{}"),
            "sessions: missing 'sessions': a list of {\"stream\", \"sink\"} objects");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": []})"),
            "sessions: 'sessions' must be a non-empty list of {\"stream\", \"sink\"}");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": {"stream": "sim"}})"),
            "sessions: 'sessions' must be a non-empty list of {\"stream\", \"sink\"}");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": [{"stream": "a", "sink": "b"}], "x": 1})"),
            "x: unknown field 'x'");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": [{"stream": "a", "sink": "b"}, 3]})"),
            "sessions[1]: sessions[1] must be an object {\"stream\", \"sink\"}");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": [{"sink": "b"}]})"),
            "sessions[0].stream: sessions[0].stream must be a non-empty string");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": [{"stream": "a", "sink": ""}]})"),
            "sessions[0].sink: sessions[0].sink must be a non-empty string");
  EXPECT_EQ(refusal(parse_purge_body, R"({"sessions": [{"stream": "a", "sink": "b", "n": 1}]})"),
            "sessions[0].n: sessions[0]: unknown field 'n'");
}

TEST(ApiBodiesTest, PurgeRefusesMoreSessionsThanTheLimit) {
  std::string body = R"({"sessions": [)";
  for (size_t i = 0; i <= kMaxPurgeSessions; ++i) {
    body += std::string(i == 0 ? "" : ",") + R"({"stream": "s", "sink": "k"})";
  }
  body += "]}";
  EXPECT_EQ(refusal(parse_purge_body, body),
            "sessions: 'sessions' has 10001 entries; at most 10000 per request");
  // The same list one shorter is accepted.
  body.erase(body.find(R"(,{"stream")"),
             std::string_view(R"(,{"stream": "s", "sink": "k"})").size());
  EXPECT_EQ(refusal(parse_purge_body, body), "accepted");
}

TEST(ApiBodiesTest, ControlValuesKeepTheirTypesAndTheListOrder) {
  ControlBody b;
  ParamError e;
  ASSERT_TRUE(parse_control_body(
      R"({"values": [{"name": "speed", "value": 1200.5}, {"name": "run", "value": true},
                     {"name": "count", "value": -3}, {"name": "mode", "value": "auto"}]})",
      &b, &e))
      << e.message;
  ASSERT_EQ(b.values.size(), 4u);
  EXPECT_EQ(b.values[0], (std::pair<std::string, Value>{"speed", 1200.5}));
  EXPECT_EQ(b.values[1], (std::pair<std::string, Value>{"run", true}));
  EXPECT_EQ(b.values[2], (std::pair<std::string, Value>{"count", int64_t{-3}}));
  EXPECT_EQ(b.values[3], (std::pair<std::string, Value>{"mode", "auto"}));
  EXPECT_TRUE(b.operation.empty());

  ASSERT_TRUE(parse_control_body(R"({"values": {"b": 1, "a": 2.0}})", &b, &e));
  ASSERT_EQ(b.values.size(), 2u);
  EXPECT_EQ(b.values[0].first, "a");  // an object is written in name order
  EXPECT_EQ(b.values[0].second, Value(2.0));
}

TEST(ApiBodiesTest, ControlOperationParamsBecomeText) {
  ControlBody b;
  ParamError e;
  ASSERT_TRUE(parse_control_body(
      R"({"operation": "reset", "params": {"to": 12, "soft": true, "mode": "x"}})", &b, &e));
  EXPECT_EQ(b.operation, "reset");
  EXPECT_EQ(b.params, (runtime::OperationParams{{"mode", "x"}, {"soft", "true"}, {"to", "12"}}));
  EXPECT_TRUE(b.values.empty());
  ASSERT_TRUE(parse_control_body(R"({"operation": "stop"})", &b, &e));
  EXPECT_TRUE(b.params.empty());
}

TEST(ApiBodiesTest, ControlNamesEachWrongField) {
  EXPECT_EQ(refusal(parse_control_body, "nope"),
            "body: the body must be a JSON object such as {\"values\": {\"speed\": 1200}} or "
            "{\"operation\": \"reset\", \"params\": {}}");
  EXPECT_EQ(refusal(parse_control_body, "{}"),
            "body: give either 'values' (set points to write) or 'operation'");
  EXPECT_EQ(refusal(parse_control_body, R"({"values": {"a": 1}, "operation": "x"})"),
            "body: give either 'values' (set points to write) or 'operation'");
  EXPECT_EQ(refusal(parse_control_body, R"({"values": {"a": {"b": 1}}})"),
            "values.a: 'values.a' must be a number, boolean or string");
  EXPECT_EQ(refusal(parse_control_body, R"({"values": {"a": 18446744073709551615}})"),
            "values.a: 'values.a' must be a number, boolean or string");
  EXPECT_EQ(refusal(parse_control_body, R"({"values": [{"name": "a", "value": 1, "x": 2}]})"),
            "values[0].x: unknown field 'values[0].x'");
  EXPECT_EQ(refusal(parse_control_body, R"({"values": [7]})"),
            "values[0]: values[0] must be {\"name\", \"value\"}");
  EXPECT_EQ(refusal(parse_control_body, R"({"operation": ""})"),
            "operation: 'operation' must be a non-empty string");
  EXPECT_EQ(refusal(parse_control_body, R"({"operation": "x", "params": []})"),
            "params: 'params' must be an object {\"name\": value}");
  std::string many = R"({"values": [)";
  for (size_t i = 0; i <= kMaxControlValues; ++i) {
    many += std::string(i == 0 ? "" : ",") + R"({"name": "a", "value": 1})";
  }
  many += "]}";
  EXPECT_EQ(refusal(parse_control_body, many),
            "values: 'values' has 1001 entries; at most 1000 per request");
}

}  // namespace
}  // namespace sluice::api
