// CSV rows, file names and atomic delivery for the `files` sink.
#include "sinks/files/csv.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "core/quality.h"

namespace sluice::sinks::files {
namespace {

struct Civil {
  struct tm tm {};
  int ms = 0;
};

Civil civil(Timestamp ts) {
  // Floor division, so times before 1970 round toward the past too.
  int64_t ms_total = ts / 1'000'000;
  if (ts % 1'000'000 < 0) --ms_total;
  int64_t secs = ms_total / 1000;
  int ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  Civil c;
  const time_t t = static_cast<time_t>(secs);
  gmtime_r(&t, &c.tm);
  c.ms = ms;
  return c;
}

}  // namespace

std::string iso8601_ms(Timestamp ts) {
  const Civil c = civil(ts);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", c.tm.tm_year + 1900,
                     c.tm.tm_mon + 1, c.tm.tm_mday, c.tm.tm_hour, c.tm.tm_min, c.tm.tm_sec, c.ms);
}

void append_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (const char ch : field) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

std::string value_text(const Value& v) {
  switch (value_type(v)) {
    case ValueType::kDouble: {
      const double d = std::get<double>(v);
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
      return fmt::format("{}", d);
    }
    case ValueType::kInt64: return fmt::format("{}", std::get<int64_t>(v));
    case ValueType::kBool: return std::get<bool>(v) ? "true" : "false";
    case ValueType::kString: return std::get<std::string>(v);
  }
  return "";
}

void append_row(std::string& out, const Sample& sample, std::string_view unit) {
  out += iso8601_ms(sample.ts);
  out.push_back(',');
  append_field(out, sample.series);
  out.push_back(',');
  append_field(out, value_text(sample.value));
  out.push_back(',');
  out += quality::to_string(sample.quality);
  out.push_back(',');
  append_field(out, unit);
  out += "\r\n";
}

std::string batch_file_name(std::string_view connector, Timestamp first, Timestamp last,
                            std::string_view tag) {
  auto compact = [](Timestamp ts) {
    const Civil c = civil(ts);
    return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}.{:03d}Z", c.tm.tm_year + 1900,
                       c.tm.tm_mon + 1, c.tm.tm_mday, c.tm.tm_hour, c.tm.tm_min, c.tm.tm_sec, c.ms);
  };
  std::string safe;
  for (const char ch : connector) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
    safe.push_back(ok ? ch : '_');
  }
  if (safe.empty() || safe.front() == '.') safe.insert(safe.begin(), 'x');
  std::string safe_tag;
  for (const char ch : tag) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-';
    safe_tag.push_back(ok ? ch : '-');
  }
  return fmt::format("{}_{}_{}_{}.csv", safe, compact(first), compact(last), safe_tag);
}

Status deliver_file(Env& env, const std::string& dir, const std::string& name,
                    std::string_view content) {
  const std::string path = join_path(dir, name);
  if (env.exists(path)) {
    return Status(Code::kAlreadyExists, fmt::format("{} exists (already delivered)", path));
  }
  SLUICE_RETURN_IF_ERROR(env.create_dirs(dir));
  // write_file_atomic: temp file, sync, rename, sync the directory.
  return write_file_atomic(env, path, content);
}

}  // namespace sluice::sinks::files
