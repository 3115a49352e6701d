// The channel sink's loop: read a batch, send it as SenML messages one at a time, judge each
// answer (channel_sink.h), and commit the cursors once every message of the batch is settled.
#include "sinks/channel/channel_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ingest/filter.h"
#include "platform/messages.h"
#include "runtime/units.h"
#include "sinks/files/http_upload.h"

namespace sluice::sinks::channel {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
// How long to wait before looking for new data when none was readable.
constexpr int64_t kIdlePollNs = 50 * kNsPerMs;
// Failed attempts in a row after which an unreachable central is CRITICAL, not WARNING.
constexpr int kCriticalAfterFailures = 5;
// Skipped samples are logged the first time and then once per this many.
constexpr uint64_t kSkipLogEvery = 10'000;
constexpr size_t kMaxKeyBytes = 256;
constexpr size_t kMinMessageBytes = 1024;
constexpr size_t kMaxMessageBytes = 64u << 20;

// A key as the adapter reads it from "Authorization: Thing <key>": printable, no spaces.
bool valid_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKeyBytes &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// A channel id as the registry makes them: 1 to 64 of A-Z a-z 0-9 - _.
bool valid_channel(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string trim(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t start = 0;
  while (start < s.size() && space(s[start])) ++start;
  return s.substr(start);
}

}  // namespace

ChannelSink::ChannelSink(std::string name, ChannelSinkOptions options)
    : Sink(std::move(name)), options_(std::move(options)), url_(message_url(options_)) {}

std::string ChannelSink::message_url(const ChannelSinkOptions& o) {
  std::string base = o.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = fmt::format("{}/channels/{}/messages", base, o.channel);
  if (!o.subtopic.empty()) url += "/" + o.subtopic;
  return url;
}

ChannelSinkCounters ChannelSink::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

runtime::SinkDetails ChannelSink::details() const {
  const ChannelSinkCounters c = counters();
  const char* credentials =
      !answered_.load() ? "" : (credentials_refused_.load() ? "refused" : "accepted");
  return {
      {"url", url_},
      {"messages_posted", std::to_string(c.messages_posted)},
      {"samples_posted", std::to_string(c.samples_posted)},
      {"retries", std::to_string(c.retries)},
      {"refused_payload", std::to_string(c.refused_payload)},
      {"refused_samples", std::to_string(c.refused_samples)},
      {"refused_credentials", std::to_string(c.refused_credentials)},
      {"credentials", credentials},
      {"skipped_samples", std::to_string(c.skipped_samples)},
      {"last_error", c.last_error},
  };
}

std::string ChannelSink::key_hint() const {
  return key_.substr(0, std::min<size_t>(key_.size(), 4)) + "...";
}

void ChannelSink::note_error(const std::string& text) {
  std::lock_guard lock(counters_mu_);
  counters_.last_error = text;
}

void ChannelSink::skip(const std::string& why) {
  uint64_t n = 0;
  {
    std::lock_guard lock(counters_mu_);
    n = ++counters_.skipped_samples;
  }
  if (n == 1 || n % kSkipLogEvery == 0) {
    spdlog::warn("sink '{}': a sample is not sent ({} so far): {}", name(), n, why);
  }
}

Result<std::string> ChannelSink::load_key() const {
  if (options_.key_file.empty()) return options_.key;
  struct stat st {};
  if (::stat(options_.key_file.c_str(), &st) != 0) {
    return Status(Code::kNotFound, fmt::format("sink '{}': key_file '{}' cannot be read: {}",
                                               name(), options_.key_file, std::strerror(errno)));
  }
  std::ifstream in(options_.key_file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return Status(Code::kIoError, fmt::format("sink '{}': key_file '{}' cannot be read", name(),
                                              options_.key_file));
  }
  std::string key = trim(text.str());
  if (!valid_key(key)) {
    return invalid_argument(
        fmt::format("sink '{}': key_file '{}' does not hold a thing key (1 to {} printable "
                    "characters without spaces); put the key the central issued in it",
                    name(), options_.key_file, kMaxKeyBytes));
  }
  if ((st.st_mode & S_IROTH) != 0) {
    spdlog::warn(
        "sink '{}': key_file '{}' is readable by every user of this machine (mode {:o}); "
        "chmod 600 it",
        name(), options_.key_file, st.st_mode & 0777);
  }
  return key;
}

std::string_view ChannelSink::unit_of(runtime::SinkContext& ctx, const std::string& series) {
  auto it = units_.find(series);
  if (it == units_.end()) {
    const std::optional<SeriesMeta> meta = ctx.series(series);
    it = units_.emplace(series, meta ? meta->unit : std::string()).first;
  }
  return it->second;
}

Result<bool> ChannelSink::fill(runtime::SinkContext& ctx) {
  Pending p;
  size_t read = 0;
  runtime::SinkItem item;
  while (read < options_.batch_samples) {
    SLUICE_ASSIGN_OR_RETURN(bool got, ctx.read(options_.batch_samples - read, &item));
    if (!got) break;
    read += item.batch.size();
    for (Sample& s : item.batch.samples) {
      if (!options_.series.empty() && std::none_of(options_.series.begin(), options_.series.end(),
                                                   [&s](const std::string& pattern) {
                                                     return ingest::glob_match(pattern, s.series);
                                                   })) {
        continue;  // not selected: not sent, and not counted as skipped
      }
      if (std::optional<std::string> why = senml_unfit(s)) {
        skip(*why);
        continue;
      }
      p.samples.push_back(std::move(s));
    }
  }
  if (read == 0) return false;
  units_.clear();  // looked up again for each batch: a unit may have been learned since
  pending_ = std::move(p);
  return true;
}

Status ChannelSink::start(runtime::SinkContext& ctx) {
  SLUICE_ASSIGN_OR_RETURN(key_, load_key());
  ThingClient client(options_.http);
  pending_.reset();  // a new context reads from the cursors again
  set_health(runtime::HealthState::kHealthy);
  int failures = 0;  // failed attempts in a row
  std::chrono::milliseconds backoff = options_.retry_min;
  const auto sleep_for = [&ctx](std::chrono::milliseconds d) {
    return ctx.sleep_until(ctx.clock().monotonic() + d.count() * kNsPerMs);
  };

  while (!ctx.stopping()) {
    if (!pending_) {
      SLUICE_ASSIGN_OR_RETURN(bool any, fill(ctx));
      if (!any) {
        ctx.sleep_until(ctx.clock().monotonic() + kIdlePollNs);
        continue;
      }
    }
    Pending& p = *pending_;
    if (p.next == p.samples.size()) {
      SLUICE_RETURN_IF_ERROR(ctx.commit());
      pending_.reset();
      continue;
    }
    if (!p.pack) {
      p.pack = encode_pack(
          std::span<const Sample>(p.samples).subspan(p.next),
          [&](const std::string& series) { return unit_of(ctx, series); },
          options_.max_message_bytes, p.max_records);
      if (p.pack->samples == 0) {
        skip(fmt::format("series '{}': one record is over max_message_bytes ({})",
                         p.samples[p.next].series, options_.max_message_bytes));
        ++p.next;
        p.pack.reset();
        continue;
      }
    }
    const Pack& pack = *p.pack;
    const PostAnswer answer = client.post(url_, key_, pack.body, [&ctx] { return ctx.stopping(); });
    if (answer.cancelled || ctx.stopping()) break;

    if (answer.status >= 200 && answer.status <= 299) {
      {
        std::lock_guard lock(counters_mu_);
        ++counters_.messages_posted;
        counters_.samples_posted += pack.samples;
      }
      answered_ = true;
      credentials_refused_ = false;
      p.next += pack.samples;
      p.pack.reset();
      failures = 0;
      backoff = options_.retry_min;
      set_health(runtime::HealthState::kHealthy);
      continue;
    }
    if (answer.status == 400 || (answer.status == 413 && pack.samples == 1)) {
      // The central will never take this message: skip it, say so, go on with the rest.
      const std::string text = fmt::format(
          "{} refused a message of {} samples ({} bytes) with HTTP {}: {}; the "
          "message is skipped",
          url_, pack.samples, pack.body.size(), answer.status, answer.message);
      {
        std::lock_guard lock(counters_mu_);
        ++counters_.refused_payload;
        counters_.refused_samples += pack.samples;
        counters_.last_error = text;
      }
      answered_ = true;
      spdlog::error("sink '{}': {}", name(), text);
      set_health(runtime::HealthState::kWarning, text);
      p.next += pack.samples;
      p.pack.reset();
      continue;
    }
    if (answer.status == 413) {
      // Over the central's limit: send the same samples in messages half as long.
      spdlog::warn("sink '{}': {} answered 413 to a message of {} bytes ({}); splitting it", name(),
                   url_, pack.body.size(), answer.message);
      p.max_records = std::max<size_t>(1, pack.samples / 2);
      p.pack.reset();
      continue;
    }
    std::string text;
    if (answer.status == 401 || answer.status == 403) {
      text = fmt::format(
          "the central refused thing key {} for channel {} (HTTP {}: {}): the key was rotated, "
          "or the thing removed or disconnected; rotate the key or bootstrap again, then give "
          "this sink the new key (its settings key or key_file); retrying in {}; {} samples "
          "waiting",
          key_hint(), options_.channel, answer.status, answer.message,
          runtime::format_duration(options_.retry_max), ctx.backlog());
      {
        std::lock_guard lock(counters_mu_);
        ++counters_.refused_credentials;
        ++counters_.retries;
        counters_.last_error = text;
      }
      answered_ = true;
      credentials_refused_ = true;
      set_health(runtime::HealthState::kCritical, text);
      spdlog::error("sink '{}': {}", name(), text);
      if (!sleep_for(options_.retry_max)) break;
      continue;
    }
    // Not there, not working, or full: the same message again after a back-off.
    ++failures;
    const std::string what =
        answer.status == 0
            ? fmt::format("cannot reach {}: {}", url_, answer.message)
            : fmt::format("{} answered HTTP {}: {}{}", url_, answer.status, answer.message,
                          answer.status == 404 ? " (check url and channel)" : "");
    text = fmt::format("{}; attempt {}, retrying in {}; {} samples waiting", what, failures,
                       runtime::format_duration(backoff), ctx.backlog());
    {
      std::lock_guard lock(counters_mu_);
      ++counters_.retries;
      counters_.last_error = what;
    }
    if (answer.status != 0) answered_ = true;
    set_health(failures >= kCriticalAfterFailures ? runtime::HealthState::kCritical
                                                  : runtime::HealthState::kWarning,
               text);
    spdlog::warn("sink '{}': {}", name(), text);
    if (!sleep_for(backoff)) break;
    backoff = std::min(backoff * 2, options_.retry_max);
  }
  return Status::ok_status();
}

namespace {

class ChannelSinkSettings final : public runtime::SinkSettings {
 public:
  explicit ChannelSinkSettings(ChannelSinkOptions options) : options_(std::move(options)) {}
  std::string summary() const override {
    return fmt::format("SenML to {} as a thing, {} samples per batch, messages of at most {}",
                       ChannelSink::message_url(options_), options_.batch_samples,
                       runtime::format_size(options_.max_message_bytes));
  }
  Result<std::unique_ptr<runtime::Sink>> create(const std::string& name) const override {
    return std::unique_ptr<runtime::Sink>(std::make_unique<ChannelSink>(name, options_));
  }

 private:
  ChannelSinkOptions options_;
};

std::shared_ptr<const runtime::SinkSettings> parse_channel_settings(runtime::ConfigTable& t) {
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  ChannelSinkOptions o;
  o.url = t.string("url", "", "the central Sluice's http:// or https:// URL",
                   [](const std::string& v) { return files::check_upload_url(v).empty(); });
  if (!t.has("url")) {
    t.error("url", "required: the central Sluice's URL, e.g. \"https://central:8080\"");
  }
  o.channel = t.string("channel", "", "a channel id (1 to 64 of A-Z a-z 0-9 - _)",
                       [](const std::string& v) { return valid_channel(v); });
  if (!t.has("channel")) t.error("channel", "required: the id of the channel to publish to");
  o.key = t.string("key", "", "a thing key (printable characters, no spaces)",
                   [](const std::string& v) { return valid_key(v); });
  if (t.has("key_file")) o.key_file = t.file_path("key_file", "", "a file holding the thing key");
  if (t.has("key") && t.has("key_file")) {
    t.error("key", "set either key or key_file, not both");
  } else if (!t.has("key") && !t.has("key_file")) {
    t.error("key", "required: the thing's key (key), or a file that holds it (key_file)");
  }
  o.subtopic = t.string("subtopic", "", "a subtopic such as \"plant1/line2\"");
  if (const Status st = platform::check_subtopic(o.subtopic); !st.ok()) {
    t.error("subtopic", st.message() + "; the central would refuse every message");
    o.subtopic.clear();
  }
  o.series = t.strings("series", {}, "series names or '*' patterns",
                       [](const std::string& v) { return !v.empty(); });
  o.batch_samples = static_cast<size_t>(t.integer(
      "batch_samples", static_cast<int64_t>(o.batch_samples),
      "a number of samples from 1 to 1000000", [](int64_t v) { return v >= 1 && v <= 1'000'000; }));
  o.max_message_bytes = static_cast<size_t>(
      t.size("max_message_bytes", o.max_message_bytes, "a size from 1KiB to 64MiB, e.g. \"1MiB\"",
             [](uint64_t v) { return v >= kMinMessageBytes && v <= kMaxMessageBytes; }));
  o.http.timeout = t.duration(
      "timeout", o.http.timeout, "a duration from 1s to 1h",
      [](nanoseconds d) { return d >= std::chrono::seconds(1) && d <= std::chrono::hours(1); });
  if (t.has("ca_file")) o.http.ca_file = t.file_path("ca_file", "", "a CA bundle file (PEM)");
  o.http.insecure_skip_verify = t.boolean("insecure_skip_verify", false);
  if (!o.url.starts_with("https://")) {
    for (const char* key : {"ca_file", "insecure_skip_verify"}) {
      if (t.has(key)) t.error(key, "only for an https:// url");
    }
  }
  o.retry_min = std::chrono::duration_cast<milliseconds>(t.duration(
      "retry_min", o.retry_min, "a duration from 10ms to 1m",
      [](nanoseconds d) { return d >= milliseconds(10) && d <= std::chrono::minutes(1); }));
  o.retry_max = std::chrono::duration_cast<milliseconds>(t.duration(
      "retry_max", o.retry_max, "a duration from 10ms to 1h",
      [](nanoseconds d) { return d >= milliseconds(10) && d <= std::chrono::hours(1); }));
  if (o.retry_max < o.retry_min) {
    t.error("retry_max",
            fmt::format("must not be below retry_min ({})", runtime::format_duration(o.retry_min)));
  }
  return std::make_shared<const ChannelSinkSettings>(std::move(o));
}

}  // namespace

runtime::SinkType channel_sink_type() { return {"channel", parse_channel_settings}; }

}  // namespace sluice::sinks::channel
