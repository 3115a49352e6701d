// Tag units from the KEPServerEX Configuration API: tag id parsing, URL building, the JSON of a
// tags collection, and the fetch worker of KepwareUnits (see kepware_units.h).
#include "sources/mqtt/kepware_units.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace sluice::sources {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
// A device's tags are fetched again for an unknown tag at most this often.
constexpr int64_t kUnknownTagRefetchNs = 60 * kNsPerSecond;
// A folder whose fetch failed is tried again at most this often.
constexpr int64_t kFailedRetryNs = 10 * kNsPerSecond;
// Failures are logged at most this often (the rest are counted into the next line).
constexpr int64_t kFailureLogIntervalNs = 60 * kNsPerSecond;
// The worker looks at the refresh time and the stop signal at least this often.
constexpr auto kWorkerPoll = std::chrono::seconds(1);
// A tags collection larger than this is refused rather than held in memory.
constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;
constexpr long kHttpOk = 200;
constexpr long kHttpUnauthorized = 401;
constexpr long kHttpForbidden = 403;
constexpr long kHttpNotFound = 404;

std::string folder_key(const KepwareTagPath& p) {
  std::string key = p.channel + "/" + p.device;
  for (const std::string& g : p.groups) key += "/" + g;
  return key;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (body->size() + n > kMaxBodyBytes) return 0;  // aborts the transfer
  body->append(data, n);
  return n;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* stop = static_cast<const std::stop_token*>(user);
  return stop->stop_requested() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

std::optional<KepwareTagPath> parse_kepware_tag_id(std::string_view id) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = id.find('.', start);
    const std::string_view part =
        id.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty() || part.front() == '_') return std::nullopt;
    parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() < 3) return std::nullopt;
  KepwareTagPath p;
  p.channel = std::move(parts[0]);
  p.device = std::move(parts[1]);
  p.tag = std::move(parts.back());
  p.groups.assign(std::make_move_iterator(parts.begin() + 2),
                  std::make_move_iterator(parts.end() - 1));
  return p;
}

std::string percent_encode_segment(std::string_view segment) {
  std::string out;
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string kepware_tags_url(std::string_view base_url, const KepwareTagPath& path) {
  std::string url(base_url);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/config/v1/project/channels/" + percent_encode_segment(path.channel) + "/devices/" +
         percent_encode_segment(path.device);
  for (const std::string& g : path.groups) url += "/tag_groups/" + percent_encode_segment(g);
  return url + "/tags";
}

Result<std::map<std::string, std::string>> parse_kepware_tags(std::string_view body) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid_argument("the answer is not valid JSON");
  if (!doc.is_array()) {
    return invalid_argument(
        fmt::format("expected a JSON array of tags, got a JSON {}", doc.type_name()));
  }
  if (doc.size() > KepwareUnits::kMaxTagsPerFolder) {
    return invalid_argument(fmt::format("{} tags in one collection, more than the {} kept",
                                        doc.size(), KepwareUnits::kMaxTagsPerFolder));
  }
  std::map<std::string, std::string> units;
  for (const nlohmann::json& tag : doc) {
    if (!tag.is_object()) continue;
    const auto name = tag.find("common.ALLTYPES_NAME");
    if (name == tag.end() || !name->is_string()) continue;
    const auto unit = tag.find("servermain.TAG_SCALING_UNITS");
    units[name->get<std::string>()] =
        unit != tag.end() && unit->is_string() ? unit->get<std::string>() : std::string();
  }
  return units;
}

KepwareUnits::KepwareUnits(std::string source_name, KepwareUnitsOptions options,
                           runtime::SourceContext& ctx)
    : source_name_(std::move(source_name)), options_(std::move(options)), ctx_(ctx) {
  worker_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

KepwareUnits::~KepwareUnits() { stop(); }

void KepwareUnits::stop() {
  if (!worker_.joinable()) return;
  worker_.request_stop();
  wake_.notify_all();
  worker_.join();
}

std::string KepwareUnits::problem() const {
  std::lock_guard lock(mu_);
  for (const auto& [key, f] : folders_) {
    if (!f.error.empty()) return "tag units from the Kepware Configuration API: " + f.error;
  }
  return {};
}

void KepwareUnits::note(std::string_view tag_id) {
  std::optional<KepwareTagPath> path = parse_kepware_tag_id(tag_id);
  if (!path) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string tag = std::move(path->tag);
  path->tag.clear();
  const std::string key = folder_key(*path);
  const int64_t now = ctx_.clock().monotonic();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    auto it = folders_.find(key);
    if (it == folders_.end()) {
      if (folders_.size() >= kMaxFolders) {
        ignored_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      it = folders_.try_emplace(key).first;
      it->second.path = std::move(*path);
    }
    Folder& f = it->second;
    if (!f.seen.contains(tag)) {
      if (f.seen.size() >= kMaxTagsPerFolder) {
        ignored_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      f.seen.insert(tag);
      if (f.fetched && f.units.contains(tag)) {
        reports_pending_ = true;
        wake = true;
      }
    }
    const bool unknown_tag = f.fetched && !f.units.contains(tag);
    const int64_t retry_ns = unknown_tag ? kUnknownTagRefetchNs : kFailedRetryNs;
    const bool due = !f.attempted || now - f.attempted_mono >= retry_ns;
    if (!f.queued && (!f.fetched || unknown_tag) && due) {
      f.queued = true;
      queue_.push_back(key);
      wake = true;
    }
  }
  if (wake) wake_.notify_one();
}

void KepwareUnits::run(std::stop_token stop) {
  const int64_t refresh_ns = std::chrono::nanoseconds(options_.refresh).count();
  int64_t next_refresh = ctx_.clock().monotonic() + refresh_ns;
  while (!stop.stop_requested()) {
    std::vector<std::pair<std::string, KepwareTagPath>> todo;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, kWorkerPoll,
                     [this] { return !queue_.empty() || reports_pending_; });
      if (stop.stop_requested()) break;
      const int64_t now = ctx_.clock().monotonic();
      if (now >= next_refresh) {
        for (auto& [key, f] : folders_) {
          if (!f.queued) {
            f.queued = true;
            queue_.push_back(key);
          }
        }
        next_refresh = now + refresh_ns;
      }
      for (const std::string& key : queue_) todo.emplace_back(key, folders_.at(key).path);
      queue_.clear();
      reports_pending_ = false;
    }

    for (const auto& [key, path] : todo) {
      std::string error;
      Result<std::map<std::string, std::string>> units = fetch(path, stop, &error);
      if (stop.stop_requested()) return;
      fetches_.fetch_add(1, std::memory_order_relaxed);
      const int64_t now = ctx_.clock().monotonic();
      std::lock_guard lock(mu_);
      Folder& f = folders_.at(key);
      f.queued = false;
      f.attempted = true;
      f.attempted_mono = now;
      f.error = std::move(error);
      if (units.ok()) {
        f.units = std::move(units).value();
        f.fetched = true;
      }
    }

    // Units of seen tags that were not reported yet, or that changed since.
    std::vector<SeriesMeta> meta;
    {
      std::lock_guard lock(mu_);
      for (auto& [key, f] : folders_) {
        if (!f.fetched) continue;
        for (const std::string& tag : f.seen) {
          const auto u = f.units.find(tag);
          if (u == f.units.end() || u->second.empty()) continue;
          const auto r = f.reported.find(tag);
          if (r != f.reported.end() && r->second == u->second) continue;
          SeriesMeta m;
          m.name = f.path.channel + "." + f.path.device;
          for (const std::string& g : f.path.groups) m.name += "." + g;
          m.name += "." + tag;
          m.unit = u->second;
          meta.push_back(std::move(m));
          f.reported[tag] = u->second;
        }
      }
    }
    if (!meta.empty()) {
      Status st = ctx_.update_series(meta);
      if (!st.ok()) {
        spdlog::warn("source '{}': tag units not kept: {}", source_name_, st.message());
      } else {
        spdlog::info("source '{}': units of {} tag(s) from the Kepware Configuration API, e.g. "
                     "'{}' in {}",
                     source_name_, meta.size(), meta.front().name, meta.front().unit);
      }
    }
  }
}

Result<std::map<std::string, std::string>> KepwareUnits::fetch(const KepwareTagPath& path,
                                                               const std::stop_token& stop,
                                                               std::string* error_line) {
  const std::string url = kepware_tags_url(options_.url, path);
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return internal_error("curl_easy_init failed");
  char error[CURL_ERROR_SIZE] = {};
  std::string body;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(options_.timeout.count(), 1)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &stop);

  Status failure;
  const CURLcode rc = curl_easy_perform(c);
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  if (rc != CURLE_OK) {
    failure =
        Status(Code::kUnavailable, error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc));
  } else if (http == kHttpUnauthorized || http == kHttpForbidden) {
    failure = Status(
        Code::kFailedPrecondition,
        fmt::format(
            "HTTP {} {}: check units_api_username and units_api_password, and that the user may "
            "read the project",
            http, http == kHttpUnauthorized ? "Unauthorized" : "Forbidden"));
  } else if (http == kHttpNotFound) {
    failure = not_found("HTTP 404 Not Found: no such channel, device or tag group");
  } else if (http != kHttpOk) {
    failure = Status(Code::kUnavailable, fmt::format("HTTP {}", http));
  } else {
    Result<std::map<std::string, std::string>> units = parse_kepware_tags(body);
    if (units.ok()) return units;
    failure = units.status();
  }
  *error_line = report_failure(url, failure);
  return failure;
}

std::string KepwareUnits::report_failure(const std::string& url, const Status& status) {
  const uint64_t total = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::string what = fmt::format("GET {}: {}", url, status.message());
  ++unlogged_;
  const int64_t now = ctx_.clock().monotonic();
  if (total == 1 || now - last_log_mono_ >= kFailureLogIntervalNs) {
    spdlog::warn(
        "source '{}': cannot read tag units: {} ({} failure(s) since the last line, {} in all); "
        "data flows on without units",
        source_name_, what, unlogged_, total);
    last_log_mono_ = now;
    unlogged_ = 0;
  }
  return what;
}

}  // namespace sluice::sources
