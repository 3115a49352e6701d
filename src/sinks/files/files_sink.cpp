// The files sink's loop: wait for the interval (or a manual upload), read what is new, write
// one CSV file per batch of rows, deliver it durably, then commit the cursors.
#include "sinks/files/files_sink.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runtime/units.h"
#include "sinks/files/csv.h"

namespace sluice::sinks::files {

FilesSink::FilesSink(std::string name, FilesSinkOptions options)
    : Sink(std::move(name)),
      options_(std::move(options)),
      env_(options_.env != nullptr ? *options_.env : Env::posix()) {}

Status FilesSink::trigger() {
  manual_ = true;
  return Status::ok_status();
}

FilesSinkCounters FilesSink::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

Status FilesSink::deliver_available(runtime::SinkContext& ctx) {
  for (;;) {
    std::string csv(kCsvHeader);
    size_t rows = 0;
    Timestamp first_ts = INT64_MAX;
    Timestamp last_ts = INT64_MIN;
    std::string tag;
    runtime::SinkItem item;
    while (rows < options_.max_rows_per_file) {
      SLUICE_ASSIGN_OR_RETURN(bool got, ctx.read(options_.max_rows_per_file - rows, &item));
      if (!got) break;
      if (tag.empty()) tag = fmt::format("{}-{}", item.stream, item.first_seq);
      for (const Sample& s : item.batch.samples) {
        append_row(csv, s, /*unit=*/"");
        first_ts = std::min(first_ts, s.ts);
        last_ts = std::max(last_ts, s.ts);
      }
      rows += item.batch.size();
    }
    if (rows == 0) return Status::ok_status();
    const std::string name = batch_file_name(this->name(), first_ts, last_ts, tag);
    Status st = deliver_file(env_, options_.dir, name, csv);
    if (st.code() == Code::kAlreadyExists) {
      // The same rows were delivered before a crash kept the cursors from moving.
      st = Status::ok_status();
    }
    if (!st.ok()) {
      ctx.rewind();
      std::lock_guard lock(counters_mu_);
      ++counters_.files_failed;
      counters_.last_error = st.message();
      return st;
    }
    SLUICE_RETURN_IF_ERROR(ctx.commit());
    {
      std::lock_guard lock(counters_mu_);
      ++counters_.files_delivered;
      counters_.rows_delivered += rows;
    }
    spdlog::debug("sink '{}': delivered {} ({} rows)", this->name(), name, rows);
    if (rows < options_.max_rows_per_file) return Status::ok_status();
  }
}

Status FilesSink::start(runtime::SinkContext& ctx) {
  set_health(runtime::HealthState::kHealthy);
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
                           options_.dir, failures, st.message(), runtime::format_duration(backoff),
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
    return fmt::format("one CSV file every {} into {}", runtime::format_duration(options_.interval),
                       options_.dir);
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
        if (!t.has("dir")) t.error("dir", "missing; the directory the CSV files go to");
        o.dir = t.file_path("dir", "", "a directory path");
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
