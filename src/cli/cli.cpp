// The command line, the operator's entry to everything: `sluice run` (the gateway itself),
// `sluice validate` (check a config without starting anything), `sluice store inspect|fsck`
// (see and mend a store offline), `sluice user|token` (REST API users and tokens, auth_commands.h)
// and `sluice version`.
//
// Exit codes: 0 success; 1 the command ran but failed (the store could not open, fsck found
// damage); 2 the input was wrong (bad config, bad arguments, a directory that is not a store).
#include "cli/cli.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/api.h"
#include "api/http_server.h"
#include "api/writer_tokens.h"
#include "auth/auth.h"
#include "cli/auth_commands.h"
#include "cli/builtin_sources.h"
#include "control/control_plane.h"
#include "io/env.h"
#include "platform/bootstrap.h"
#include "platform/edge_bootstrap.h"
#include "platform/platform_source.h"
#include "platform/registry.h"
#include "runtime/config.h"
#include "runtime/runtime.h"
#include "sluice/version.h"
#include "store/fsck.h"

namespace sluice::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

const std::vector<std::string> kLogLevels{"trace", "debug",    "info", "warn",
                                          "error", "critical", "off"};

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("sluice");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5!l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// Prints every config error, one per line, and a closing line that says what happens now.
int report_config_errors(const std::string& path, const Status& status,
                         const std::vector<runtime::ConfigError>& errors) {
  if (errors.empty()) {  // the file could not be read at all
    std::cerr << "sluice: " << status.message() << "\n";
    return kExitBadInput;
  }
  for (const auto& e : errors) std::cerr << e.to_string() << "\n";
  std::cerr << path << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors")
            << "; nothing was started (docs/configuration.md lists every key)\n";
  return kExitBadInput;
}

int cmd_validate(const std::string& path) {
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> config = runtime::load_config(path, builtin_source_types(), &errors);
  if (!config.ok()) return report_config_errors(path, config.status(), errors);
  std::cout << path << ": ok\n" << runtime::describe_config(*config);
  return kExitOk;
}

// `sluice run --bootstrap`: what cmd_run() does besides running the config it was given.
struct EdgeRun {
  // A refused channel sink (401/403) asks for a new bootstrap no sooner than this after start.
  std::chrono::seconds rebootstrap_after{30};
};
// cmd_run's answer when the edge must bootstrap again (SIGHUP, or its forwarding refused).
constexpr int kExitRebootstrap = -1;

// Watches an edge's channel sinks: once one says the central refused its key ("credentials"
// "refused") and `after` has passed since the start, sends this process SIGHUP, which cmd_run
// answers with a graceful stop and a new bootstrap.
class RefusalWatcher {
 public:
  RefusalWatcher(runtime::Runtime& rt, std::chrono::seconds after)
      : thread_([this, &rt, after](std::stop_token stop) { watch(rt, after, stop); }) {}

 private:
  void watch(runtime::Runtime& rt, std::chrono::seconds after, const std::stop_token& stop) {
    const auto started = std::chrono::steady_clock::now();
    std::mutex mu;
    std::condition_variable cv;
    std::stop_callback wake(stop, [&] {
      std::lock_guard lock(mu);
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop.stop_requested(); })) {
      if (std::chrono::steady_clock::now() - started < after) continue;
      for (const runtime::SinkStatus& sink : rt.sinks()) {
        if (sink.type != "channel") continue;
        for (const runtime::SinkDetail& d : sink.details) {
          if (d.name == "credentials" && d.value == "refused") {
            spdlog::warn("sink '{}': the central refused this thing's key; bootstrapping again",
                         sink.name);
            ::kill(::getpid(), SIGHUP);
            return;
          }
        }
      }
    }
  }
  std::jthread thread_;
};

int cmd_run(const std::string& path, const std::string& log_level_flag,
            const EdgeRun* edge = nullptr) {
  std::vector<runtime::ConfigError> errors;
  // Platform sources (the MQTT adapter) find the device registry through this once it is open.
  auto registry_link = std::make_shared<platform::RegistryLink>();
  // Kept for the runtime too: it builds the services changed at run time from their stored text.
  const runtime::SourceTypes types = make_source_types(registry_link);
  Result<runtime::Config> config = runtime::load_config(path, types, &errors);
  if (!config.ok()) return report_config_errors(path, config.status(), errors);
  spdlog::set_level(
      spdlog::level::from_str(log_level_flag.empty() ? config->log.level : log_level_flag));

  // SIGINT and SIGTERM are taken by sigwait() below; they are blocked before any thread starts
  // (the store's sync thread, the sources) so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (edge != nullptr) sigaddset(&stop_signals, SIGHUP);  // bootstrap again
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  api::WriterTokens writer_tokens;
  Result<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::open(*config, {.types = &types, .tokens = &writer_tokens});
  if (!rt.ok()) {
    spdlog::critical("{}", rt.status().to_string());
    return kExitFailed;
  }
  // Edge control: rules, notifications, the control dispatcher, scripts and ACLs. Installed
  // before the sources start, so that a command they receive finds the dispatcher.
  Result<std::unique_ptr<control::ControlPlane>> control_plane =
      control::ControlPlane::open(**rt, *config);
  if (!control_plane.ok()) {
    spdlog::critical("{}", control_plane.status().message());
    return kExitFailed;
  }
  Status started = (*rt)->start();
  if (!started.ok()) {
    spdlog::critical("{}", started.to_string());
    return kExitFailed;
  }
  (*control_plane)->start();
  std::unique_ptr<auth::Auth> auth;
  std::unique_ptr<platform::Registry> platform_registry;  // outlives the routes below
  std::unique_ptr<platform::BootstrapStore> bootstrap;    // uses the registry
  std::unique_ptr<auth::OidcVerifier> oidc;
  std::unique_ptr<api::Api> api_routes;
  std::unique_ptr<api::HttpServer> server;
  const bool has_link =
      std::any_of(config->sources.begin(), config->sources.end(),
                  [](const runtime::SourceConfig& s) { return s.type == "link"; });
  if (config->api.enabled || has_link) {
    // Users and tokens live in the state database next to the store. The link source checks
    // the tokens of senders and writers with them too.
    Result<std::unique_ptr<auth::Auth>> opened =
        auth::Auth::open(join_path(config->store.dir, "state.db"), SystemClock::instance());
    if (!opened.ok()) {
      spdlog::critical("API users and tokens: {}", opened.status().message());
      (void)(*rt)->stop();
      return kExitFailed;
    }
    auth = std::move(opened).value();
    writer_tokens.set(auth.get());
  }
  if (config->api.enabled) {
    Result<std::optional<std::string>> first = auth->users().ensure_first_admin();
    if (!first.ok()) {
      spdlog::critical("API users and tokens: {}", first.status().message());
      (void)(*rt)->stop();
      return kExitFailed;
    }
    if (first->has_value()) {
      // Shown once: it is stored only hashed. `sluice user passwd admin` changes it.
      std::cout << "\nFirst run: the API user 'admin' was created with the password\n\n    "
                << **first
                << "\n\nIt is shown only now. Log in with it and change it (sluice user passwd "
                   "admin).\n\n"
                << std::flush;
    }
    // The device registry (organizations, things, channels) beside the users.
    Result<std::unique_ptr<platform::Registry>> registry =
        platform::Registry::open(join_path(config->store.dir, "state.db"), SystemClock::instance());
    if (!registry.ok()) {
      spdlog::critical("device registry: {}", registry.status().message());
      (void)(*rt)->stop();
      return kExitFailed;
    }
    platform_registry = std::move(registry).value();
    registry_link->set(platform_registry.get());
    // Device bootstrap configs beside the registry; encrypted answers with [api]'s key.
    Result<std::unique_ptr<platform::BootstrapStore>> bootstrap_store =
        platform::open_bootstrap(join_path(config->store.dir, "state.db"), *platform_registry,
                                 config->api.bootstrap_key_file, SystemClock::instance());
    if (!bootstrap_store.ok()) {
      spdlog::critical("device bootstrap: {}", bootstrap_store.status().message());
      (void)(*rt)->stop();
      return kExitFailed;
    }
    bootstrap = std::move(bootstrap_store).value();
    if (config->api.oidc) {
      Result<std::unique_ptr<auth::OidcVerifier>> verifier =
          auth::OidcVerifier::make(*config->api.oidc, SystemClock::instance());
      if (!verifier.ok()) {
        spdlog::critical("[api.oidc]: {}", verifier.status().message());
        (void)(*rt)->stop();
        return kExitFailed;
      }
      oidc = std::move(verifier).value();
      spdlog::info("single sign-on: bearer JWTs of {} are accepted", config->api.oidc->issuer);
    }
    api_routes = std::make_unique<api::Api>(
        **rt, api::ApiOptions{.auth = auth.get(),
                              .metrics_public = config->api.metrics_public,
                              .control = control_plane->get(),
                              .platform = platform_registry.get(),
                              .oidc = oidc.get(),
                              .bootstrap = bootstrap.get()});
    api::HttpServerOptions o;
    o.address = config->api.address;
    o.port = config->api.port;
    o.cert_file = config->api.cert_file;
    o.key_file = config->api.key_file;
    o.max_body_bytes = config->api.max_body_bytes;
    o.threads = config->api.threads;
    o.websocket = [routes = api_routes.get()](const api::HttpRequest& r) {
      return routes->open_websocket(r);
    };
    Result<std::unique_ptr<api::HttpServer>> s = api::HttpServer::start(
        o, [routes = api_routes.get()](const api::HttpRequest& r) { return routes->handle(r); });
    if (!s.ok()) {
      spdlog::critical(
          "API server: {}; set [api] listen to a free address and port, or "
          "[api] enabled = false",
          s.status().message());
      (void)(*rt)->stop();
      return kExitFailed;
    }
    server = std::move(s).value();
    api_routes->set_server(server.get());
    spdlog::info("API listening on {}://{}:{}", server->tls() ? "https" : "http",
                 config->api.address, server->port());
  }
  spdlog::info("sluice {} running with {} ({} sources); stop with Ctrl-C or SIGTERM", kVersion,
               path, config->sources.size());

  std::optional<RefusalWatcher> watcher;
  if (edge != nullptr) watcher.emplace(**rt, edge->rebootstrap_after);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  watcher.reset();
  if (signal_number == SIGHUP) {
    spdlog::info("stopping gracefully to bootstrap again");
  } else {
    spdlog::info("received {}; stopping gracefully (send it again to exit at once)",
                 signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  }
  // A second signal now ends the process with the default action.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

  if (server) server->stop();  // no request may reach the runtime while it stops
  (*control_plane)->stop();    // no rule acts on a source while it stops
  Status stopped = (*rt)->stop();
  registry_link->set(nullptr);
  if (!stopped.ok()) {
    spdlog::error("{}", stopped.to_string());
    return kExitFailed;
  }
  spdlog::info("stopped");
  return signal_number == SIGHUP ? kExitRebootstrap : kExitOk;
}

struct EdgeOptions {
  platform::EdgeBootstrapOptions fetch;
  std::string external_key_file;
  std::string decryption_key_file;
  std::string dir = "sluice-edge";
  EdgeRun run;
};

// Reads a small secret file (surrounding white space dropped).
Result<std::string> read_secret(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Status(Code::kIoError, "cannot read " + path);
  std::string s = text.str();
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  while (!s.empty() && space(s.front())) s.erase(s.begin());
  if (s.empty()) return Status(Code::kInvalidArgument, path + " is empty");
  return s;
}

// Bootstraps (or, offline, takes the last bootstrap's config) and runs; on a request to
// bootstrap again, starts this program over with the same arguments.
int cmd_run_edge(EdgeOptions o, const std::string& log_level, char** argv) {
  if (!o.external_key_file.empty()) {
    Result<std::string> key = read_secret(o.external_key_file);
    if (!key.ok()) {
      spdlog::critical("--external-key-file: {}", key.status().message());
      return kExitBadInput;
    }
    o.fetch.external_key = *key;
  }
  if (!o.decryption_key_file.empty()) {
    Result<std::string> key = platform::read_bootstrap_key(o.decryption_key_file);
    if (!key.ok()) {
      spdlog::critical("--bootstrap-key-file: {}", key.status().message());
      return kExitBadInput;
    }
    o.fetch.decryption_key = *key;
  }
  const std::string cached = o.dir + "/sluice.toml";
  std::chrono::seconds backoff(1);
  std::string path;
  while (path.empty()) {
    Result<platform::BootstrapAnswer> answer = platform::fetch_bootstrap(o.fetch);
    if (answer.ok()) {
      Result<std::string> text = platform::edge_config(*answer, o.fetch.url);
      Result<std::string> written =
          text.ok() ? platform::write_edge_files(o.dir, *answer, *text) : text.status();
      if (written.ok()) {
        spdlog::info("bootstrapped from {} as thing {} ({} channel(s)); running {}", o.fetch.url,
                     answer->thing_id, answer->channels.size(), *written);
        path = *written;
        break;
      }
      spdlog::error("bootstrap from {}: {}", o.fetch.url, written.status().message());
    } else {
      spdlog::error("{}", answer.status().message());
    }
    if (std::filesystem::exists(cached)) {
      spdlog::warn("running the last bootstrap's config, {}, until the central answers", cached);
      path = cached;
      break;
    }
    spdlog::info("no config from an earlier bootstrap in {}; trying again in {} s", o.dir,
                 backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::seconds(60));
  }
  const int code = cmd_run(path, log_level, &o.run);
  if (code != kExitRebootstrap) return code;
  spdlog::info("starting over to bootstrap again");
  ::execv("/proc/self/exe", argv);
  spdlog::critical("could not start over (execv: {}); start sluice again", std::strerror(errno));
  return kExitFailed;
}

int cmd_inspect(const std::string& dir, bool records) {
  store::InspectOptions options;
  options.records = records;
  Status s = store::inspect(Env::posix(), dir, options, std::cout);
  if (!s.ok()) {
    std::cerr << "sluice store inspect: " << dir << ": " << s.to_string() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

int cmd_fsck(const std::string& dir, bool repair) {
  store::FsckOptions options;
  options.repair = repair;
  Result<store::FsckReport> report = store::fsck(Env::posix(), dir, options, std::cout);
  if (!report.ok()) {
    std::cerr << "sluice store fsck: " << dir << ": " << report.status().to_string() << "\n";
    return kExitBadInput;
  }
  // fsck itself printed every problem, every repair and a summary line that says what to do.
  return report->clean() || repair ? kExitOk : kExitFailed;
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "Sluice: an industrial data gateway that keeps every value on disk until it "
      "has been delivered.",
      "sluice"};
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(1);

  std::string log_level;
  app.add_option("--log-level", log_level,
                 "Log level (trace, debug, info, warn, error, critical, off); overrides the "
                 "config's [log] level")
      ->check(CLI::IsMember(kLogLevels));

  std::string config_path;
  CLI::App* run = app.add_subcommand("run", "Run the gateway with a config file");
  CLI::Option* config_option = run->add_option("-c,--config", config_path, "The TOML config file");
  // Sluice as a device: the config comes from a central Sluice (platform/edge_bootstrap.h).
  EdgeOptions edge;
  int rebootstrap_after_s = 30;
  CLI::Option* bootstrap_option = run->add_option(
      "--bootstrap", edge.fetch.url,
      "Instead of a config file: the central Sluice's URL to bootstrap from (with --external-id "
      "and --external-key or --external-key-file)");
  config_option->excludes(bootstrap_option);
  run->add_option("--external-id", edge.fetch.external_id, "This device's external id")
      ->needs(bootstrap_option);
  CLI::Option* key_option =
      run->add_option("--external-key", edge.fetch.external_key, "This device's external key")
          ->needs(bootstrap_option);
  run->add_option("--external-key-file", edge.external_key_file,
                  "A file holding this device's external key")
      ->needs(bootstrap_option)
      ->excludes(key_option);
  run->add_option("--bootstrap-key-file", edge.decryption_key_file,
                  "A file of 64 hex characters: fetch the AES-256-GCM sealed answer with it")
      ->needs(bootstrap_option);
  run->add_option("--bootstrap-ca-file", edge.fetch.ca_file,
                  "The CA bundle to verify an https central with")
      ->needs(bootstrap_option);
  run->add_option("--dir", edge.dir,
                  "Where the bootstrapped config, key and store live (default sluice-edge)")
      ->needs(bootstrap_option);
  run->add_option("--rebootstrap-after", rebootstrap_after_s,
                  "Seconds after a start before a refused key makes the edge bootstrap again "
                  "(default 30)")
      ->needs(bootstrap_option)
      ->check(CLI::Range(1, 86400));

  std::string validate_path;
  CLI::App* validate =
      app.add_subcommand("validate", "Check a config file and print what it sets up");
  validate->add_option("file", validate_path, "The TOML config file")->required();

  CLI::App* store_cmd = app.add_subcommand("store", "Look at or mend a store (Sluice stopped)");
  store_cmd->require_subcommand(1);
  std::string inspect_dir;
  bool inspect_records = false;
  CLI::App* inspect = store_cmd->add_subcommand("inspect", "Show what a store holds");
  inspect->add_option("dir", inspect_dir, "The store directory")->required();
  inspect->add_flag("--records", inspect_records, "List every record, not only segments");
  std::string fsck_dir;
  bool fsck_repair = false;
  CLI::App* fsck = store_cmd->add_subcommand(
      "fsck", "Verify every checksum of a store; exit 0 if clean, 1 if damaged");
  fsck->add_option("dir", fsck_dir, "The store directory")->required();
  fsck->add_flag("--repair", fsck_repair,
                 "Truncate torn tails and quarantine damaged files (exit 0 when done)");

  CLI::App* version = app.add_subcommand("version", "Print the version");
  AuthCommands auth_commands(app);  // `sluice user ...`, `sluice token ...`

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  setup_logging(log_level.empty() ? "info" : log_level);
  if (std::optional<int> code = auth_commands.run()) return *code;
  if (*run) {
    if (!edge.fetch.url.empty()) {
      if (edge.fetch.external_id.empty() ||
          (edge.fetch.external_key.empty() && edge.external_key_file.empty())) {
        std::cerr << "sluice run --bootstrap: give --external-id and --external-key (or "
                     "--external-key-file)\n";
        return kExitBadInput;
      }
      edge.run.rebootstrap_after = std::chrono::seconds(rebootstrap_after_s);
      return cmd_run_edge(edge, log_level, argv);
    }
    if (config_path.empty()) {
      std::cerr << "sluice run: give a config file (-c sluice.toml) or --bootstrap <url>\n";
      return kExitBadInput;
    }
    return cmd_run(config_path, log_level);
  }
  if (*validate) return cmd_validate(validate_path);
  if (*inspect) return cmd_inspect(inspect_dir, inspect_records);
  if (*fsck) return cmd_fsck(fsck_dir, fsck_repair);
  if (*version) {
    const std::string revision = *kGitRevision != '\0' ? kGitRevision : "unknown";
    std::cout << "sluice " << kVersion << " (git " << revision << ")\n";
    return kExitOk;
  }
  return kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {  // a bug: say so rather than abort silently
    std::cerr << "sluice: internal error: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace sluice::cli
