// The files sink's loop: wait for the interval (or a manual upload), read what is new, write
// one CSV file per batch of rows, deliver it durably into dir and/or upload it, then commit the
// cursors.
#include "sinks/files/files_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "runtime/units.h"
#include "sinks/files/csv.h"
#include "sinks/files/gzip.h"

namespace sluice::sinks::files {

FilesSink::FilesSink(std::string name, FilesSinkOptions options)
    : Sink(std::move(name)),
      options_(std::move(options)),
      env_(options_.env != nullptr ? *options_.env : Env::posix()) {
  if (options_.upload) uploader_ = std::make_unique<HttpUploader>(*options_.upload);
}

std::string FilesSink::destination() const {
  if (!options_.upload) return options_.dir;
  if (options_.dir.empty()) return options_.upload->url;
  return fmt::format("{} and {}", options_.dir, options_.upload->url);
}

Status FilesSink::deliver(runtime::SinkContext& ctx, const PendingFile& file) {
  if (!options_.dir.empty()) {
    Status st = deliver_file(env_, options_.dir, file.name, file.content);
    // kAlreadyExists: the same file was put there before (an upload failed, or a crash kept
    // the cursors from moving).
    if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
  }
  if (uploader_) {
    Status st = uploader_->upload(file.name, file.content, options_.gzip,
                                  [&ctx] { return ctx.stopping(); });
    {
      std::lock_guard lock(counters_mu_);
      if (st.ok()) {
        ++counters_.files_uploaded;
      } else {
        ++counters_.uploads_failed;
      }
    }
    if (!st.ok()) return st;
  }
  return Status::ok_status();
}

Status FilesSink::trigger() {
  manual_ = true;
  return Status::ok_status();
}

FilesSinkCounters FilesSink::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

runtime::SinkDetails FilesSink::details() const {
  const FilesSinkCounters c = counters();
  return {
      {"files_pending", std::to_string(c.files_pending)},
      {"files_uploaded", std::to_string(c.files_uploaded)},
      {"files_delivered", std::to_string(c.files_delivered)},
      {"files_failed", std::to_string(c.files_failed)},
      {"rows_delivered", std::to_string(c.rows_delivered)},
      {"last_upload", c.last_delivery == 0 ? std::string() : iso8601_ms(c.last_delivery)},
      {"last_error", c.last_error},
  };
}

Status FilesSink::deliver_available(runtime::SinkContext& ctx) {
  for (;;) {
    if (!pending_) {
      std::string csv(kCsvHeader);
      size_t rows = 0;
      Timestamp first_ts = INT64_MAX;
      Timestamp last_ts = INT64_MIN;
      std::string tag;
      runtime::SinkItem item;
      // Units from the state database, looked up once per series per file.
      std::unordered_map<std::string, std::string> units;
      auto unit_of = [&](const std::string& series) -> const std::string& {
        auto it = units.find(series);
        if (it == units.end()) {
          auto meta = ctx.series(series);
          it = units.emplace(series, meta ? meta->unit : std::string()).first;
        }
        return it->second;
      };
      while (rows < options_.max_rows_per_file) {
        SLUICE_ASSIGN_OR_RETURN(bool got, ctx.read(options_.max_rows_per_file - rows, &item));
        if (!got) break;
        if (tag.empty()) tag = fmt::format("{}-{}", item.stream, item.first_seq);
        for (const Sample& s : item.batch.samples) {
          append_row(csv, s, unit_of(s.series));
          first_ts = std::min(first_ts, s.ts);
          last_ts = std::max(last_ts, s.ts);
        }
        rows += item.batch.size();
      }
      if (rows == 0) return Status::ok_status();
      PendingFile file;
      file.name = batch_file_name(this->name(), first_ts, last_ts, tag);
      file.rows = rows;
      if (options_.gzip) {
        file.name += ".gz";
        auto compressed = gzip(csv);
        if (!compressed.ok()) {
          ctx.rewind();
          return compressed.status();
        }
        file.content = std::move(*compressed);
      } else {
        file.content = std::move(csv);
      }
      pending_ = std::move(file);
      std::lock_guard lock(counters_mu_);
      counters_.files_pending = 1;
    }
    Status st = deliver(ctx, *pending_);
    if (!st.ok()) {
      // The rows stay read but uncommitted: the next attempt sends this same file again.
      std::lock_guard lock(counters_mu_);
      ++counters_.files_failed;
      counters_.last_error = st.message();
      return st;
    }
    SLUICE_RETURN_IF_ERROR(ctx.commit());
    const size_t rows = pending_->rows;
    const std::string name = std::move(pending_->name);
    pending_.reset();
    {
      std::lock_guard lock(counters_mu_);
      counters_.files_pending = 0;
      ++counters_.files_delivered;
      counters_.rows_delivered += rows;
      counters_.last_delivery = ctx.clock().now();
    }
    spdlog::debug("sink '{}': delivered {} ({} rows)", this->name(), name, rows);
    if (rows < options_.max_rows_per_file) return Status::ok_status();
  }
}

Status FilesSink::start(runtime::SinkContext& ctx) {
  set_health(runtime::HealthState::kHealthy);
  pending_.reset();  // a new context reads from the cursors again
  {
    std::lock_guard lock(counters_mu_);
    counters_.files_pending = 0;
  }
  Clock& clock = ctx.clock();
  int64_t next = clock.monotonic() + options_.interval.count();
  int failures = 0;
  while (ctx.sleep_until(next) || manual_) {
    if (ctx.stopping()) break;
    const bool manual = manual_.exchange(false);
    if (!manual && clock.monotonic() < next) continue;  // woken early for nothing
    Status st = deliver_available(ctx);
    if (st.ok()) {
      failures = 0;
      set_health(runtime::HealthState::kHealthy);
      next = clock.monotonic() + options_.interval.count();
      continue;
    }
    // Retry with back-off (5 s doubling, at most the interval); the data waits in the store.
    ++failures;
    const auto backoff = std::min<std::chrono::nanoseconds>(
        std::chrono::seconds(5) * (int64_t{1} << std::min(failures - 1, 10)), options_.interval);
    set_health(runtime::HealthState::kWarning,
               fmt::format("delivery to {} failed {} time(s): {}; retrying in {}; {} samples "
                           "waiting",
                           destination(), failures, st.message(), runtime::format_duration(backoff),
                           ctx.backlog()));
    spdlog::warn("sink '{}': delivery failed: {}", name(), st.message());
    next = clock.monotonic() + backoff.count();
  }
  return Status::ok_status();
}

namespace {

class FilesSinkSettings final : public runtime::SinkSettings {
 public:
  explicit FilesSinkSettings(FilesSinkOptions options) : options_(std::move(options)) {}
  std::string summary() const override {
    return fmt::format("one CSV{} file every {} to {}", options_.gzip ? ".gz" : "",
                       runtime::format_duration(options_.interval), destination_text());
  }
  std::string destination_text() const {
    if (!options_.upload) return options_.dir;
    const std::string how = options_.upload->put ? "PUT" : "POST";
    if (options_.dir.empty()) return fmt::format("{} {}", how, options_.upload->url);
    return fmt::format("{} and {} {}", options_.dir, how, options_.upload->url);
  }
  Result<std::unique_ptr<runtime::Sink>> create(const std::string& name) const override {
    return std::unique_ptr<runtime::Sink>(new FilesSink(name, options_));
  }

 private:
  FilesSinkOptions options_;
};

}  // namespace

runtime::SinkType files_sink_type() {
  return runtime::SinkType{
      "files", [](runtime::ConfigTable& t) -> std::shared_ptr<const runtime::SinkSettings> {
        FilesSinkOptions o;
        if (!t.has("dir") && !t.has("url")) {
          t.error("dir",
                  "missing; set dir (the directory the CSV files go to), url (where they "
                  "are uploaded), or both");
        }
        if (t.has("dir")) o.dir = t.file_path("dir", "", "a directory path");
        if (t.has("url")) {
          HttpUploadOptions u;
          u.url = t.string("url", "", "an http:// or https:// URL",
                           [](const std::string& v) { return check_upload_url(v).empty(); });
          u.put = t.choice("method", 0, {"POST", "PUT"}) == 1;
          u.bearer_token = t.string("bearer_token", "", "a token (without \"Bearer \")",
                                    [](const std::string& v) { return !v.empty(); });
          u.username = t.string("username", "", "a user name",
                                [](const std::string& v) { return !v.empty(); });
          u.password = t.string("password", "");
          if (t.has("bearer_token") && (t.has("username") || t.has("password"))) {
            t.error("bearer_token",
                    "set either bearer_token or username + password (basic auth), not both");
          }
          if (t.has("password") && !t.has("username")) {
            t.error("password", "password without username; set both for basic auth");
          }
          if (t.has("username") && !t.has("password")) {
            t.error("username", "username without password; set both for basic auth");
          }
          if (t.has("ca_file")) u.ca_file = t.file_path("ca_file", "", "a CA bundle file (PEM)");
          u.insecure_skip_verify = t.boolean("insecure_skip_verify", false);
          u.timeout = t.duration(
              "timeout", u.timeout, "a duration from 1s to 1h", [](std::chrono::nanoseconds d) {
                return d >= std::chrono::seconds(1) && d <= std::chrono::hours(1);
              });
          o.upload = std::move(u);
        } else {
          for (const char* key : {"method", "bearer_token", "username", "password", "ca_file",
                                  "insecure_skip_verify", "timeout"}) {
            if (t.has(key)) t.error(key, "only for an upload; set url too, or remove it");
          }
        }
        o.gzip = t.boolean("gzip", false);
        const bool short_ok = t.boolean("allow_short_interval", false);
        o.interval = t.duration(
            "interval", o.interval,
            short_ok ? "a duration of at least 1s" : "a duration of at least 1m (e.g. \"10m\")",
            [short_ok](std::chrono::nanoseconds d) {
              return d >= (short_ok ? std::chrono::nanoseconds(std::chrono::seconds(1))
                                    : std::chrono::nanoseconds(std::chrono::minutes(1)));
            });
        o.max_rows_per_file = static_cast<size_t>(
            t.integer("max_rows_per_file", static_cast<int64_t>(o.max_rows_per_file),
                      "a number of rows from 1 to 100000000",
                      [](int64_t v) { return v >= 1 && v <= 100'000'000; }));
        return std::make_shared<FilesSinkSettings>(std::move(o));
      }};
}

}  // namespace sluice::sinks::files
