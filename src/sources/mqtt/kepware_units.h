// Engineering units of Kepware tags, from the KEPServerEX Configuration API. The mqtt source
// tells this object which tag ids its messages carry (note(), on the source's thread, never
// blocking); a worker thread of its own fetches the tags of each device or tag group it has not
// seen with an HTTP GET (libcurl, basic auth) of
//   <url>/config/v1/project/channels/{channel}/devices/{device}[/tag_groups/{g}...]/tags
// and reports each seen tag's `servermain.TAG_SCALING_UNITS` through
// SourceContext::update_series, which keeps it in the state database. Every known folder is
// fetched again every `refresh`. Failures are counted, logged rate-limited and shown through
// problem(); they never touch the data path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "runtime/service.h"

namespace sluice::sources {

struct KepwareUnitsOptions {
  std::string url;  // e.g. "https://kepware:57512"; "" = off
  std::string username;
  std::string password;
  bool insecure_skip_verify = false;
  std::chrono::milliseconds refresh{std::chrono::hours(1)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

// A tag id split into its parts: "Channel1.Device1.Group1.Sub.Tag1" → channel "Channel1",
// device "Device1", groups {"Group1", "Sub"}, tag "Tag1". Kepware reserves '.' in names, so
// the split is exact. nullopt when the id has fewer than three non-empty parts, or when a part
// starts with '_': Kepware's own system and statistics tags (`Channel1.Device1._System._Error`),
// which are not in the project's tags collections (user names may not start with '_').
struct KepwareTagPath {
  std::string channel;
  std::string device;
  std::vector<std::string> groups;
  std::string tag;
};
std::optional<KepwareTagPath> parse_kepware_tag_id(std::string_view id);

// RFC 3986 percent-encoding of one URL path segment (everything but unreserved characters).
std::string percent_encode_segment(std::string_view segment);

// The Configuration API collection of the tags directly in a device or tag group.
std::string kepware_tags_url(std::string_view base_url, const KepwareTagPath& path);

// Reads the answer of a tags collection GET: a JSON array of tag objects; returns tag name
// (`common.ALLTYPES_NAME`) → units (`servermain.TAG_SCALING_UNITS`, "" when absent). Objects
// without a name are skipped; anything but an array is an error. At most kMaxTagsPerFolder.
Result<std::map<std::string, std::string>> parse_kepware_tags(std::string_view body);

class KepwareUnits {
 public:
  // Folders (devices or tag groups) and seen tags per folder kept at most; beyond, tag ids are
  // ignored (and counted), so that a stream of odd ids cannot grow memory.
  static constexpr size_t kMaxFolders = 10'000;
  static constexpr size_t kMaxTagsPerFolder = 100'000;

  // Starts the worker. `ctx` must remain live until the destructor (or stop()) returned.
  KepwareUnits(std::string source_name, KepwareUnitsOptions options, runtime::SourceContext& ctx);
  ~KepwareUnits();  // stops and joins the worker
  KepwareUnits(const KepwareUnits&) = delete;
  KepwareUnits& operator=(const KepwareUnits&) = delete;

  // A message carried this tag id. Thread-safe, never blocks on I/O.
  void note(std::string_view tag_id);
  // Stops the worker (an HTTP request in flight is aborted) and joins it. Idempotent.
  void stop();

  // Thread-safe status.
  uint64_t fetches() const { return fetches_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t ignored_ids() const { return ignored_.load(std::memory_order_relaxed); }
  // Why a device or group cannot be read now (the first such), e.g. "GET
  // https://k:57512/config/...: HTTP 401 (check units_api_username and units_api_password)"; ""
  // when every fetch's last try succeeded.
  std::string problem() const;

 private:
  struct Folder {
    KepwareTagPath path;                          // tag is empty
    std::set<std::string> seen;                   // tag names seen in messages
    std::map<std::string, std::string> reported;  // tag name → unit last reported
    std::map<std::string, std::string> units;     // from the last good fetch
    bool fetched = false;
    std::string error;       // why the last fetch failed; "" after a good one
    bool attempted = false;  // a fetch was tried (good or not)
    bool queued = false;
    int64_t attempted_mono = 0;  // ctx clock, last fetch tried
  };

  void run(std::stop_token stop);
  // Fetches one folder; returns the tag → units map, or why not (and the line for problem()
  // in *error_line).
  Result<std::map<std::string, std::string>> fetch(const KepwareTagPath& path,
                                                   const std::stop_token& stop,
                                                   std::string* error_line);
  // Counts and logs (rate-limited) a failed fetch; returns the line for problem().
  std::string report_failure(const std::string& url, const Status& status);

  const std::string source_name_;
  const KepwareUnitsOptions options_;
  runtime::SourceContext& ctx_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  std::map<std::string, Folder> folders_;  // key "channel/device/g1/g2"; guarded by mu_
  std::deque<std::string> queue_;          // folder keys to fetch; guarded by mu_
  bool reports_pending_ = false;           // guarded by mu_

  std::atomic<uint64_t> fetches_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> ignored_{0};
  int64_t last_log_mono_ = 0;  // worker only
  uint64_t unlogged_ = 0;      // worker only

  std::jthread worker_;  // last: started after everything it uses
};

}  // namespace sluice::sources
