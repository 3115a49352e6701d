// The files sink's HTTP upload, end to end: simulator -> store -> files sink -> a real HTTP
// server on 127.0.0.1 (fixtures/http_receiver.h), with the real clock. Every sample below the
// sink's cursor arrives in exactly one row of a 2xx-answered upload; while the server answers
// 503 or 401 the sink waits (WARNING naming the status) and its cursor stays, then it delivers
// everything once the server accepts; with gzip the bodies and the files in dir are gzip CSV.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/http_receiver.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"
#include "sinks/files/csv.h"
#include "sinks/files/gzip.h"
#include "sinks/files/http_upload.h"

namespace sluice {
namespace {

using testing::eventually;

namespace fs = std::filesystem;
using runtime::Runtime;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::HttpReceiver;

constexpr std::string_view kHeader = "timestamp,series,value,quality,unit";

constexpr std::string_view kShortInterval = "interval = \"1s\"\nallow_short_interval = true";

Result<runtime::Config> parse(const testing::TempDir& dir, const std::string& sink_keys,
                              std::string_view timing = kShortInterval) {
  const std::string text = fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "sim"
type = "simulator"
rate = 2000
series = 7
[[sinks]]
name = "lake"
type = "files"
{2}
{1}
)",
                                       dir.path(), sink_keys, timing);
  return runtime::parse_config(text, dir.file("sluice.toml"), cli::builtin_source_types());
}

runtime::Config config_for(const testing::TempDir& dir, const std::string& sink_keys,
                           std::string_view timing = kShortInterval) {
  auto c = parse(dir, sink_keys, timing);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

uint64_t delivered(Runtime& rt) {
  auto sinks = rt.sinks();
  return sinks.empty() ? 0 : sinks[0].delivered;
}

runtime::Health sink_health(Runtime& rt) {
  auto sinks = rt.sinks();
  return sinks.empty() ? runtime::Health{} : sinks[0].health;
}

// One of the sink's details (SinkStatus::details) by name; "(absent)" if it has none such.
std::string detail(Runtime& rt, std::string_view name) {
  auto sinks = rt.sinks();
  if (sinks.empty()) return "(no sink)";
  for (const runtime::SinkDetail& d : sinks[0].details) {
    if (d.name == name) return d.value;
  }
  return "(absent)";
}

uint64_t detail_count(Runtime& rt, std::string_view name) {
  const std::string v = detail(rt, name);
  return v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) ? 0 : std::stoull(v);
}

// The data rows of one CSV text (CRLF lines), after checking its header.
std::vector<std::string> csv_rows(const std::string& csv) {
  std::vector<std::string> rows;
  std::istringstream in(csv);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    EXPECT_TRUE(!line.empty() && line.back() == '\r') << "not CRLF: " << line;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (header) {
      EXPECT_EQ(line, kHeader);
      header = false;
      continue;
    }
    rows.push_back(line);
  }
  EXPECT_FALSE(header) << "empty file";
  return rows;
}

// The rows of every upload the receiver accepted (2xx), decompressing gzip bodies.
std::vector<std::string> accepted_rows(const HttpReceiver& receiver, size_t* uploads = nullptr) {
  std::vector<std::string> rows;
  size_t n = 0;
  for (const auto& req : receiver.requests()) {
    if (req.answered < 200 || req.answered > 299) continue;
    ++n;
    std::string csv = req.body;
    if (req.header("content-encoding") == "gzip") {
      auto plain = sinks::files::gunzip(req.body);
      EXPECT_TRUE(plain.ok()) << req.header("x-sluice-file") << ": " << plain.status().message();
      csv = plain.ok() ? *plain : "";
    }
    for (auto& row : csv_rows(csv)) rows.push_back(std::move(row));
  }
  if (uploads != nullptr) *uploads = n;
  return rows;
}

// The store's samples below the sink's cursor, each rendered as its CSV row (without CRLF).
std::multiset<std::string> stored_rows(const runtime::Config& config, uint64_t* cursor_out) {
  auto st = store::Store::open(Env::posix(), config.store);
  EXPECT_TRUE(st.ok());
  if (!st.ok()) return {};
  const uint64_t cursor = (*st)->cursor("sim", "lake")->next_seq;
  *cursor_out = cursor;
  auto reader = (*st)->open_reader("sim", 0);
  EXPECT_TRUE(reader.ok());
  std::multiset<std::string> expected;
  store::ReadItem item;
  while (expected.size() < cursor && *(*reader)->next(cursor - expected.size(), &item)) {
    for (const Sample& s : item.batch.samples) {
      std::string row;
      sinks::files::append_row(row, s, "");
      row.resize(row.size() - 2);  // without CRLF
      expected.insert(row);
    }
  }
  EXPECT_EQ(expected.size(), cursor);
  return expected;
}

// Every accepted row is one of the store's samples below the cursor, and each of those arrived
// exactly once.
void expect_exactly_once(const runtime::Config& config, const std::vector<std::string>& rows) {
  uint64_t cursor = 0;
  const std::multiset<std::string> expected = stored_rows(config, &cursor);
  EXPECT_GT(cursor, 0u);
  EXPECT_EQ(rows.size(), cursor);
  const std::set<std::string> unique(rows.begin(), rows.end());
  EXPECT_EQ(unique.size(), rows.size()) << "a row was delivered twice";
  EXPECT_EQ(std::multiset<std::string>(rows.begin(), rows.end()), expected);
}

TEST(FilesUploadTest, EverySampleArrivesInExactlyOneUploadedRowAcrossARestart) {
  testing::TempDir dir;
  HttpReceiver receiver;
  const runtime::Config config = config_for(dir, fmt::format("url = \"{}\"", receiver.url()));
  for (int run = 0; run < 2; ++run) {
    auto rt = Runtime::open(config);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 2000; }));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  size_t uploads = 0;
  const std::vector<std::string> rows = accepted_rows(receiver, &uploads);
  EXPECT_GE(uploads, 2u);
  for (const auto& req : receiver.requests()) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/upload");
    EXPECT_THAT(req.header("content-type"), HasSubstr("text/csv"));
    EXPECT_THAT(req.header("x-sluice-file"), ::testing::StartsWith("lake_"));
    EXPECT_THAT(req.header("x-sluice-file"), ::testing::EndsWith(".csv"));
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/lake")) << "no dir configured, yet files were written";
  expect_exactly_once(config, rows);
}

TEST(FilesUploadTest, OutageWaitsWithWarningNamingTheStatusThenDeliversEverythingOnce) {
  testing::TempDir dir;
  HttpReceiver receiver;
  receiver.set_status(503);
  const runtime::Config config = config_for(dir, fmt::format("url = \"{}\"", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  // At least two failed attempts: the retry resends and is refused again.
  ASSERT_TRUE(eventually([&] {
    return receiver.request_count() >= 2 &&
           sink_health(**rt).state == runtime::HealthState::kWarning;
  }));
  const runtime::Health health = sink_health(**rt);
  EXPECT_THAT(health.reason, HasSubstr("HTTP 503"));
  EXPECT_THAT(health.reason, HasSubstr(receiver.url()));
  EXPECT_THAT(health.reason, HasSubstr("test outage"));  // the start of the answer's body
  EXPECT_EQ(delivered(**rt), 0u) << "the cursor moved during the outage";
  EXPECT_GT((*rt)->sinks()[0].backlog, 0u);
  // A resend is the same file: a receiver can deduplicate by name.
  const auto refused = receiver.requests();
  EXPECT_EQ(refused[0].header("x-sluice-file"), refused[1].header("x-sluice-file"));
  EXPECT_EQ(refused[0].body, refused[1].body);

  receiver.set_status(200);
  ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 3000; }));
  ASSERT_TRUE(
      eventually([&] { return sink_health(**rt).state == runtime::HealthState::kHealthy; }));
  ASSERT_TRUE((*rt)->stop().ok());
  expect_exactly_once(config, accepted_rows(receiver));
}

TEST(FilesUploadTest, WrongBearerTokenIsAFailureNaming401AndNothingIsCommitted) {
  testing::TempDir dir;
  HttpReceiver receiver;
  receiver.require_bearer("right-token");
  const runtime::Config config =
      config_for(dir, fmt::format("url = \"{}\"\nbearer_token = \"wrong-token\"", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] {
    return receiver.request_count() >= 1 &&
           sink_health(**rt).state == runtime::HealthState::kWarning;
  }));
  const runtime::Health health = sink_health(**rt);
  EXPECT_THAT(health.reason, HasSubstr("HTTP 401"));
  EXPECT_THAT(health.reason, HasSubstr("invalid or missing bearer token"));
  EXPECT_THAT(health.reason, ::testing::Not(HasSubstr("wrong-token"))) << "secret in a message";
  EXPECT_EQ(delivered(**rt), 0u);
  EXPECT_EQ(receiver.requests()[0].header("authorization"), "Bearer wrong-token");
  ASSERT_TRUE((*rt)->stop().ok());
  uint64_t cursor = 1;
  stored_rows(config, &cursor);
  EXPECT_EQ(cursor, 0u);
}

TEST(FilesUploadTest, DetailsShowFailedAndPendingDuringAnOutageThenUploadedAndLastUpload) {
  testing::TempDir dir;
  HttpReceiver receiver;
  receiver.set_status(503);
  const runtime::Config config = config_for(dir, fmt::format("url = \"{}\"", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  std::vector<std::string> names;
  const std::vector<runtime::SinkStatus> sinks = (*rt)->sinks();
  for (const runtime::SinkDetail& d : sinks[0].details) names.push_back(d.name);
  EXPECT_THAT(
      names, ::testing::ElementsAre("files_pending", "files_uploaded", "files_delivered",
                                    "files_failed", "rows_delivered", "last_upload", "last_error"));
  EXPECT_EQ(detail(**rt, "files_failed"), "0");
  EXPECT_EQ(detail(**rt, "last_upload"), "");
  ASSERT_TRUE((*rt)->start().ok());
  // The outage: attempts fail, the one file made waits (pending), nothing is uploaded.
  ASSERT_TRUE(eventually([&] {
    return detail_count(**rt, "files_failed") >= 2 && detail(**rt, "files_pending") == "1";
  }));
  EXPECT_EQ(detail(**rt, "files_uploaded"), "0");
  EXPECT_EQ(detail(**rt, "files_delivered"), "0");
  EXPECT_EQ(detail(**rt, "last_upload"), "");
  EXPECT_THAT(detail(**rt, "last_error"), HasSubstr("HTTP 503"));
  const std::string line = (*rt)->status_line();
  EXPECT_THAT(line, HasSubstr("sink lake:"));
  EXPECT_THAT(line, HasSubstr("files_pending=1"));
  EXPECT_THAT(line, HasSubstr("files_uploaded=0"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("last_upload=")));

  // The server is back: the waiting file and the next ones are uploaded, nothing is pending.
  receiver.set_status(200);
  ASSERT_TRUE(eventually([&] {
    return detail_count(**rt, "files_uploaded") >= 2 && detail(**rt, "files_pending") == "0";
  }));
  const std::string last_upload = detail(**rt, "last_upload");
  EXPECT_THAT(last_upload,
              ::testing::MatchesRegex("20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]+\\.[0-9]{3}Z"));
  EXPECT_THAT(detail(**rt, "last_error"), HasSubstr("HTTP 503")) << "the last error is kept";
  EXPECT_THAT((*rt)->status_line(), HasSubstr("last_upload=" + last_upload.substr(0, 10)));
  ASSERT_TRUE((*rt)->stop().ok());
  // Every uploaded file was committed, and each was answered 2xx by the receiver.
  EXPECT_EQ(detail(**rt, "files_uploaded"), detail(**rt, "files_delivered"));
  size_t accepted = 0;
  accepted_rows(receiver, &accepted);
  EXPECT_GE(accepted, detail_count(**rt, "files_uploaded"));
  EXPECT_EQ(detail_count(**rt, "rows_delivered"), delivered(**rt));
}

TEST(FilesUploadTest, A401IsRetriedWithTheSameFileWhichArrivesOnceByteIdenticalAfterwards) {
  testing::TempDir dir;
  HttpReceiver receiver;
  receiver.set_status(401);
  const runtime::Config config = config_for(dir, fmt::format("url = \"{}\"", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  // Refused twice: a 4xx is retried with back-off, like a 5xx, not skipped.
  ASSERT_TRUE(eventually([&] {
    return receiver.request_count() >= 2 &&
           sink_health(**rt).state == runtime::HealthState::kWarning;
  }));
  const runtime::Health health = sink_health(**rt);
  EXPECT_THAT(health.reason, HasSubstr("HTTP 401"));
  EXPECT_THAT(health.reason, HasSubstr("check bearer_token or username and password"));
  EXPECT_THAT(health.reason, HasSubstr("retrying in"));
  EXPECT_THAT(detail(**rt, "last_error"), HasSubstr("HTTP 401"));
  EXPECT_EQ(delivered(**rt), 0u);
  const auto refused = receiver.requests();
  const std::string first_name = refused[0].header("x-sluice-file");
  ASSERT_FALSE(first_name.empty());
  EXPECT_EQ(refused[1].header("x-sluice-file"), first_name);
  EXPECT_EQ(refused[1].body, refused[0].body);

  receiver.set_status(200);
  auto accepted_named = [&](const std::string& name) {
    std::vector<HttpReceiver::Request> out;
    for (const auto& req : receiver.requests()) {
      if (req.answered >= 200 && req.answered <= 299 && req.header("x-sluice-file") == name) {
        out.push_back(req);
      }
    }
    return out;
  };
  ASSERT_TRUE(eventually([&] { return !accepted_named(first_name).empty(); }));
  ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 3000; }));
  ASSERT_TRUE((*rt)->stop().ok());
  const auto arrived = accepted_named(first_name);
  ASSERT_EQ(arrived.size(), 1u) << "the refused file was accepted more than once";
  EXPECT_EQ(arrived[0].body, refused[0].body) << "the file changed between the attempts";
  expect_exactly_once(config, accepted_rows(receiver));
}

TEST(FilesUploadTest, RefusalsNameTheStatusAndWhatToCheck) {
  HttpReceiver receiver;
  sinks::files::HttpUploadOptions options;
  options.url = receiver.url();
  sinks::files::HttpUploader uploader(options);
  auto refusal = [&](int status) {
    receiver.set_status(status);
    Status st = uploader.upload("f.csv", "timestamp\r\n", false, [] { return false; });
    EXPECT_FALSE(st.ok()) << status;
    return st.message();
  };
  EXPECT_THAT(refusal(401), AllOf(HasSubstr("HTTP 401"), HasSubstr("check bearer_token")));
  EXPECT_THAT(refusal(403), AllOf(HasSubstr("HTTP 403"), HasSubstr("username and password")));
  EXPECT_THAT(refusal(404), AllOf(HasSubstr("HTTP 404"), HasSubstr("check the url")));
  EXPECT_THAT(refusal(413), AllOf(HasSubstr("HTTP 413"), HasSubstr("lower max_rows_per_file")));
  EXPECT_THAT(refusal(400), AllOf(HasSubstr("HTTP 400"), HasSubstr("check the url")));
  EXPECT_THAT(refusal(503), AllOf(HasSubstr("HTTP 503"), HasSubstr("retried")));
  receiver.set_status(200);
  EXPECT_TRUE(uploader.upload("f.csv", "timestamp\r\n", false, [] { return false; }).ok());
  EXPECT_EQ(receiver.request_count(), 7u);
}

TEST(FilesUploadTest, ManualUploadDeliversAtOnceWithoutWaitingForTheInterval) {
  testing::TempDir dir;
  HttpReceiver receiver;
  const runtime::Config config =
      config_for(dir, fmt::format("url = \"{}\"", receiver.url()), "interval = \"1h\"");
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return (*rt)->sinks()[0].backlog >= 100; }));
  // An hour-long interval: nothing is sent on its own during this test.
  EXPECT_EQ(receiver.request_count(), 0u);
  EXPECT_EQ(detail(**rt, "files_uploaded"), "0");

  ASSERT_TRUE((*rt)->trigger_sink("lake").ok());
  ASSERT_TRUE(eventually([&] { return detail(**rt, "files_delivered") == "1"; }));
  EXPECT_EQ(detail(**rt, "files_uploaded"), "1");
  EXPECT_EQ(detail(**rt, "files_pending"), "0");
  EXPECT_NE(detail(**rt, "last_upload"), "");
  EXPECT_GE(delivered(**rt), 100u);
  EXPECT_EQ(receiver.request_count(), 1u);
  // Again: the samples that came since make a second file.
  ASSERT_TRUE(eventually([&] { return (*rt)->sinks()[0].backlog > 0; }));
  ASSERT_TRUE((*rt)->trigger_sink("lake").ok());
  ASSERT_TRUE(eventually([&] { return detail(**rt, "files_delivered") == "2"; }));
  EXPECT_EQ(receiver.request_count(), 2u);

  const Status unknown = (*rt)->trigger_sink("datalake");
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_THAT(unknown.message(), AllOf(HasSubstr("'datalake'"), HasSubstr("lake")));
  ASSERT_TRUE((*rt)->stop().ok());
  expect_exactly_once(config, accepted_rows(receiver));
}

TEST(FilesUploadTest, ManualUploadOfADisabledSinkIsRefused) {
  testing::TempDir dir;
  HttpReceiver receiver;
  const runtime::Config config =
      config_for(dir, fmt::format("url = \"{}\"\nenabled = false", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  const Status refused = (*rt)->trigger_sink("lake");
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("DISABLED"));
  ASSERT_TRUE((*rt)->stop().ok());
  EXPECT_EQ(receiver.request_count(), 0u);
}

TEST(FilesUploadTest, BasicAuthIsSentAsAnAuthorizationHeader) {
  testing::TempDir dir;
  HttpReceiver receiver;
  const runtime::Config config = config_for(
      dir, fmt::format("url = \"{}\"\nusername = \"user\"\npassword = \"secret\"", receiver.url()));
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return delivered(**rt) > 0; }));
  ASSERT_TRUE((*rt)->stop().ok());
  ASSERT_GE(receiver.request_count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("authorization"), "Basic dXNlcjpzZWNyZXQ=");
}

TEST(FilesUploadTest, GzipBodiesAndFilesDecompressToTheSameValidCsv) {
  testing::TempDir dir;
  HttpReceiver receiver;
  const runtime::Config config =
      config_for(dir, fmt::format("dir = \"{}/lake\"\nurl = \"{}\"\nmethod = \"PUT\"\ngzip = true",
                                  dir.path(), receiver.url("/bucket/")));
  {
    auto rt = Runtime::open(config);
    ASSERT_TRUE(rt.ok());
    ASSERT_TRUE((*rt)->start().ok());
    ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 3000; }));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  // Each upload is a PUT to /bucket/<name>, gzip-encoded CSV, and the same bytes are in dir.
  std::set<std::string> names;
  for (const auto& req : receiver.requests()) {
    const std::string name = req.header("x-sluice-file");
    EXPECT_THAT(name, ::testing::EndsWith(".csv.gz"));
    EXPECT_EQ(req.method, "PUT");
    EXPECT_EQ(req.path, "/bucket/" + name);
    EXPECT_EQ(req.header("content-encoding"), "gzip");
    EXPECT_THAT(req.header("content-type"), HasSubstr("text/csv"));
    std::ifstream in(dir.path() + "/lake/" + name, std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(file, req.body) << name;
    names.insert(name);
  }
  size_t files_in_dir = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() + "/lake")) {
    EXPECT_EQ(names.count(entry.path().filename().string()), 1u) << entry.path();
    ++files_in_dir;
  }
  EXPECT_EQ(files_in_dir, names.size());
  expect_exactly_once(config, accepted_rows(receiver));
}

// An HTTPS server on 127.0.0.1 with a self-signed certificate for 127.0.0.1: Python's http.server
// behind its ssl module (a real TLS stack other than the client's), answering 200 to POST/PUT.
class HttpsServer {
 public:
  explicit HttpsServer(const testing::TempDir& dir) : dir_(dir) {
    const auto cert = testing::run_command(fmt::format(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout {0}/key.pem -out {0}/cert.pem "
        "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1",
        dir.path()));
    EXPECT_EQ(cert.exit_code, 0) << cert.output;
    std::ofstream(dir.file("https_server.py")) << R"(import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get('Content-Length', '0')))
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()
    do_POST = do_PUT = answer
    def log_message(self, *args): pass
d = sys.argv[1]
s = http.server.HTTPServer(('127.0.0.1', 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(d + '/cert.pem', d + '/key.pem')
s.socket = c.wrap_socket(s.socket, server_side=True)
open(d + '/port.tmp', 'w').write(str(s.server_address[1]))
import os, threading; os.rename(d + '/port.tmp', d + '/port')
threading.Timer(600, lambda: os._exit(0)).start()  # never outlives a crashed test for long
s.serve_forever()
)";
    const auto started = testing::run_command(fmt::format(
        "python3 {0}/https_server.py {0} > {0}/https_server.log 2>&1 & echo $!", dir.path()));
    pid_ = std::atoi(started.output.c_str());
    EXPECT_GT(pid_, 0) << started.output;
    EXPECT_TRUE(eventually([&] { return fs::exists(dir.file("port")); }))
        << "the HTTPS server did not start";
    std::ifstream(dir.file("port")) >> port_;
  }
  ~HttpsServer() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  std::string url() const { return fmt::format("https://127.0.0.1:{}/upload", port_); }
  std::string ca_file() const { return dir_.file("cert.pem"); }

 private:
  const testing::TempDir& dir_;
  int pid_ = 0;
  int port_ = 0;
};

TEST(FilesUploadTest, HttpsVerifiesTheServerWithCaFileAndRefusesAnUnknownCertificate) {
  testing::TempDir dir;
  HttpsServer server(dir);
  auto run_until = [&](const std::string& keys, auto done) {
    testing::TempDir run_dir;
    const runtime::Config config = config_for(run_dir, keys);
    auto rt = Runtime::open(config);
    EXPECT_TRUE(rt.ok());
    if (!rt.ok()) return runtime::Health{};
    EXPECT_TRUE((*rt)->start().ok());
    EXPECT_TRUE(eventually([&] { return done(**rt); }));
    const runtime::Health health = sink_health(**rt);
    EXPECT_TRUE((*rt)->stop().ok());
    return health;
  };
  auto has_delivered = [](Runtime& rt) { return delivered(rt) > 0; };
  auto warns = [](Runtime& rt) { return sink_health(rt).state == runtime::HealthState::kWarning; };
  // The certificate is trusted through ca_file.
  run_until(fmt::format("url = \"{}\"\nca_file = \"{}\"", server.url(), server.ca_file()),
            has_delivered);
  // Without it, the self-signed certificate is refused, and the message says why.
  const runtime::Health refused = run_until(fmt::format("url = \"{}\"", server.url()), warns);
  EXPECT_THAT(refused.reason, HasSubstr("certificate"));
  EXPECT_THAT(refused.reason, HasSubstr(server.url()));
  // insecure_skip_verify accepts it anyway.
  run_until(fmt::format("url = \"{}\"\ninsecure_skip_verify = true", server.url()), has_delivered);
}

TEST(FilesUploadTest, GunzipRejectsTruncatedCorruptAndOversizedInput) {
  const std::string csv = std::string(kHeader) + "\r\n2026-11-24T03:15:05.618Z,a,1,Good,\r\n";
  auto packed = sinks::files::gzip(csv);
  ASSERT_TRUE(packed.ok());
  auto round = sinks::files::gunzip(*packed);
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(*round, csv);
  EXPECT_FALSE(sinks::files::gunzip(std::string_view(*packed).substr(0, packed->size() / 2)).ok());
  std::string flipped = *packed;
  flipped[flipped.size() / 2] = static_cast<char>(~flipped[flipped.size() / 2]);
  EXPECT_FALSE(sinks::files::gunzip(flipped).ok());
  EXPECT_FALSE(sinks::files::gunzip(*packed, csv.size() - 1).ok());
}

TEST(FilesUploadTest, ConfigErrorsNameTheKey) {
  testing::TempDir dir;
  auto error_of = [&](const std::string& keys) {
    auto c = parse(dir, keys);
    return c.ok() ? std::string("(accepted)") : c.status().message();
  };
  EXPECT_THAT(error_of(""), HasSubstr("sinks[0].dir"));
  EXPECT_THAT(error_of("url = \"ftp://example.com/x\""), HasSubstr("sinks[0].url"));
  EXPECT_THAT(error_of("url = \"http://127.0.0.1/x\"\nbearer_token = \"t\"\nusername = \"u\"\n"
                       "password = \"p\""),
              HasSubstr("sinks[0].bearer_token"));
  EXPECT_THAT(error_of("url = \"http://127.0.0.1/x\"\nusername = \"u\""),
              HasSubstr("sinks[0].username"));
  EXPECT_THAT(error_of("url = \"http://127.0.0.1/x\"\nmethod = \"GET\""),
              HasSubstr("sinks[0].method"));
  EXPECT_THAT(error_of("url = \"http://127.0.0.1/x\"\ntimeout = \"0s\""),
              HasSubstr("sinks[0].timeout"));
  EXPECT_THAT(error_of(fmt::format("dir = \"{}/lake\"\nbearer_token = \"t\"", dir.path())),
              HasSubstr("sinks[0].bearer_token"));
  EXPECT_EQ(error_of("url = \"https://127.0.0.1/x\"\nusername = \"u\"\npassword = \"p\"\n"
                     "insecure_skip_verify = true\ntimeout = \"5s\""),
            "(accepted)");
}

}  // namespace
}  // namespace sluice
