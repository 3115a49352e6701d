// The web UI's files through the router: `/` is index.html, each file with its content type,
// 304 for an unchanged file, 404 for a missing one, and nothing outside the web folder: no
// "..", no hidden file, no symlink that leads out.
#include "api/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/router.h"
#include "fixtures/test_support.h"

namespace sluice::api {
namespace {

HttpRequest get(const std::string& path) {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  return r;
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(web_.file("node_modules/htmx.org/dist"));
    std::ofstream(web_.file("index.html")) << "<!doctype html><title>Sluice</title>";
    std::ofstream(web_.file("app.js")) << "console.log(1);";
    std::ofstream(web_.file("style.css")) << "body{}";
    std::ofstream(web_.file("notes.xyz")) << "no type";
    std::ofstream(web_.file("package.json")) << "{}";
    std::ofstream(web_.file(".secret.js")) << "hidden";
    std::ofstream(web_.file("node_modules/htmx.org/dist/htmx.min.js")) << "htmx";
    std::ofstream(outside_.file("passwd.js")) << "outside";
    std::filesystem::create_symlink(outside_.file("passwd.js"), web_.file("escape.js"));
    register_static_routes(router_, web_.path());
  }
  testing::TempDir web_;
  testing::TempDir outside_;
  Router router_;
};

TEST_F(StaticFilesTest, RootIsIndexHtmlAndFilesHaveTheirContentTypes) {
  HttpResponse r = router_.dispatch(get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<!doctype html><title>Sluice</title>");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_NE(header(r, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  r = router_.dispatch(get("/app.js"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  r = router_.dispatch(get("/style.css"));
  EXPECT_EQ(r.content_type, "text/css; charset=utf-8");
  r = router_.dispatch(get("/vendor/htmx.min.js"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "htmx");
}

TEST_F(StaticFilesTest, UnchangedFileAnswers304ToItsETag) {
  const HttpResponse first = router_.dispatch(get("/app.js"));
  const std::string etag = header(first, "ETag");
  ASSERT_FALSE(etag.empty());
  HttpRequest again = get("/app.js");
  again.headers["if-none-match"] = etag;
  const HttpResponse r = router_.dispatch(again);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  again.headers["if-none-match"] = "\"other\"";
  EXPECT_EQ(router_.dispatch(again).status, 200);
}

TEST_F(StaticFilesTest, MissingUnknownTypeAndUnknownVendorFilesAre404) {
  EXPECT_EQ(router_.dispatch(get("/missing.js")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/notes.xyz")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/package.json")).status, 404);  // not a file of the UI
  EXPECT_EQ(router_.dispatch(get("/vendor/other.js")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/vendor/uPlot.iife.min.js")).status, 404);  // not installed
}

TEST_F(StaticFilesTest, NothingOutsideTheWebFolderIsServed) {
  EXPECT_EQ(router_.dispatch(get("/..")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/...js")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/.secret.js")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/escape.js")).status, 404);  // a symlink out of the folder
  // A decoded "%2F" stays inside one segment of the path only if the router kept it whole.
  HttpResponse r = router_.dispatch(get("/..%2F..%2Fetc%2Fpasswd"));
  EXPECT_EQ(r.status, 404);
  // The router splits a decoded path on '/', so "/../x" is two segments and matches no route.
  EXPECT_EQ(router_.dispatch(get("/../passwd.js")).status, 404);
  EXPECT_EQ(router_.dispatch(get("/node_modules/htmx.org")).status, 404);
}

TEST(StaticFilesWithoutUiTest, MissingWebFolderAnswers404SayingHowToGetTheUi) {
  Router router;
  register_static_routes(router, "/nonexistent/web");
  const HttpResponse r = router.dispatch(get("/"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("SLUICE_WEB_DIR"), std::string::npos);
}

}  // namespace
}  // namespace sluice::api
