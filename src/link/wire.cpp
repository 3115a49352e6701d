#include "link/wire.h"

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace sluice::link {

using nlohmann::json;

Status encode_wire_batch(const Batch& batch, const EncodeOptions& options, pb::EncodedBatch* out) {
  thread_local std::vector<uint32_t> ids;
  thread_local std::unordered_map<std::string_view, uint32_t> index;
  thread_local EncodedBatch enc;
  ids.clear();
  index.clear();
  out->clear_series();
  // Batches read from a store come grouped by series: compare with the previous name first.
  std::string_view previous;
  uint32_t previous_id = 0;
  for (const Sample& s : batch.samples) {
    if (!ids.empty() && s.series == previous) {
      ids.push_back(previous_id);
      continue;
    }
    auto [it, inserted] = index.try_emplace(s.series, static_cast<uint32_t>(index.size()));
    if (inserted) {
      if (index.size() > kMaxFrameSeries) {
        return invalid_argument(
            fmt::format("a batch with more than {} series; split it", kMaxFrameSeries));
      }
      out->add_series(s.series);
    }
    previous = s.series;
    previous_id = it->second;
    ids.push_back(it->second);
  }
  SLUICE_RETURN_IF_ERROR(encode_batch(batch, ids, options, &enc));
  out->set_sample_count(enc.sample_count);
  out->set_compression(static_cast<uint32_t>(enc.compression));
  out->set_raw_size(enc.raw_size);
  out->set_payload(enc.bytes);
  return Status::ok_status();
}

Result<Batch> decode_wire_batch(const pb::EncodedBatch& in) {
  if (in.sample_count() == 0) return invalid_argument("batch.sample_count: a batch is not empty");
  if (in.sample_count() > kMaxFrameSamples) {
    return invalid_argument(fmt::format("batch.sample_count: {} samples (at most {})",
                                        in.sample_count(), kMaxFrameSamples));
  }
  if (in.series_size() == 0 || static_cast<uint32_t>(in.series_size()) > kMaxFrameSeries) {
    return invalid_argument(
        fmt::format("batch.series: {} names (1 to {})", in.series_size(), kMaxFrameSeries));
  }
  for (int i = 0; i < in.series_size(); ++i) {
    const std::string& name = in.series(i);
    if (name.empty() || name.size() > kMaxSeriesName) {
      return invalid_argument(
          fmt::format("batch.series[{}]: a name of 1 to {} bytes", i, kMaxSeriesName));
    }
  }
  if (in.compression() > static_cast<uint32_t>(Compression::kZstd)) {
    return invalid_argument(
        fmt::format("batch.compression: {} is not 0, 1 or 2", in.compression()));
  }
  DecodeLimits limits;
  limits.max_samples = kMaxFrameSamples;
  limits.max_raw_bytes = static_cast<uint32_t>(kMaxMessageBytes * 4);
  std::string raw;
  const std::string* bytes = &in.payload();
  if (in.compression() != 0) {
    Status st = decompress_payload(in.payload(), static_cast<Compression>(in.compression()),
                                   in.raw_size(), limits, &raw);
    if (!st.ok()) return invalid_argument("batch.payload: " + st.message());
    bytes = &raw;
  }
  std::vector<uint32_t> ids;
  std::vector<uint32_t> counts;
  Status scanned = scan_series_ids(*bytes, limits, &ids, &counts);
  if (!scanned.ok()) return invalid_argument("batch.payload: " + scanned.message());
  uint64_t total = 0;
  for (size_t g = 0; g < ids.size(); ++g) {
    if (ids[g] >= static_cast<uint32_t>(in.series_size())) {
      return invalid_argument(fmt::format(
          "batch.payload: series id {} of group {} is not in the frame's table of {} names", ids[g],
          g, in.series_size()));
    }
    total += counts[g];
  }
  if (total != in.sample_count()) {
    return invalid_argument(fmt::format("batch.sample_count: {} declared, the payload holds {}",
                                        in.sample_count(), total));
  }
  Batch batch;
  batch.samples.reserve(total);
  Status decoded = decode_batch(
      *bytes, [&](uint32_t id) { return in.series(static_cast<int>(id)); }, limits, &batch);
  if (!decoded.ok()) return invalid_argument("batch.payload: " + decoded.message());
  return batch;
}

namespace {

json settings_json(const pb::SessionSettings& s) {
  json j = json::object();
  if (s.has_inactive_timeout_ms()) j["inactive_timeout_ms"] = s.inactive_timeout_ms();
  if (s.has_write_nodata_on_close()) j["write_nodata_on_close"] = s.write_nodata_on_close();
  if (s.has_allow_insert_older()) j["allow_insert_older"] = s.allow_insert_older();
  if (s.has_create_dataset()) j["create_dataset"] = s.create_dataset();
  return j;
}

template <typename T>
bool get(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  try {
    *out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

bool valid_name(std::string_view v, size_t max) {
  if (v.empty() || v.size() > max) return false;
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string session_meta_json(const pb::SessionInfo& session, std::string_view service) {
  json hops = json::array();
  for (const std::string& hop : session.hops()) hops.push_back(hop);
  json s = {{"id", session.id()},
            {"name", session.name()},
            {"collector", session.collector()},
            {"source", session.source()},
            {"hops", hops},
            {"dataset", session.dataset()},
            {"created_ns", session.created_ns()},
            {"destination", session.destination()},
            {"settings", settings_json(session.settings())}};
  return json{{"service", std::string(service)}, {"session", s}, {"hops", hops}}.dump();
}

bool session_from_meta(std::string_view meta_json, pb::SessionInfo* out) {
  const json meta = json::parse(meta_json, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object()) return false;
  auto it = meta.find("session");
  if (it == meta.end() || !it->is_object()) return false;
  const json& s = *it;
  std::string text;
  int64_t number = 0;
  bool flag = false;
  out->Clear();
  if (!get(s, "id", &text)) return false;
  out->set_id(text);
  if (get(s, "name", &text)) out->set_name(text);
  if (get(s, "collector", &text)) out->set_collector(text);
  if (get(s, "source", &text)) out->set_source(text);
  if (get(s, "dataset", &text)) out->set_dataset(text);
  if (get(s, "destination", &text)) out->set_destination(text);
  if (get(s, "created_ns", &number)) out->set_created_ns(number);
  if (auto hops = s.find("hops"); hops != s.end() && hops->is_array()) {
    for (const json& hop : *hops) {
      if (hop.is_string()) out->add_hops(hop.get<std::string>());
    }
  }
  if (auto st = s.find("settings"); st != s.end() && st->is_object()) {
    pb::SessionSettings* settings = out->mutable_settings();
    if (get(*st, "inactive_timeout_ms", &number)) settings->set_inactive_timeout_ms(number);
    if (get(*st, "write_nodata_on_close", &flag)) settings->set_write_nodata_on_close(flag);
    if (get(*st, "allow_insert_older", &flag)) settings->set_allow_insert_older(flag);
    if (get(*st, "create_dataset", &flag)) settings->set_create_dataset(flag);
  }
  return true;
}

Status validate_session(const pb::SessionInfo& s) {
  if (!valid_name(s.id(), kMaxSessionIdBytes)) {
    return invalid_argument(
        fmt::format("session.id: 1 to {} printable bytes required", kMaxSessionIdBytes));
  }
  if (s.id().front() == '.' || s.id().find('/') != std::string::npos) {
    return invalid_argument("session.id: must not start with '.' or contain '/'");
  }
  if (!valid_name(s.collector(), 64)) {
    return invalid_argument("session.collector: the collector's instance name is required");
  }
  if (!valid_name(s.source(), 200)) return invalid_argument("session.source: required");
  if (s.name().size() > 200) return invalid_argument("session.name: at most 200 bytes");
  if (s.dataset().size() > 200) return invalid_argument("session.dataset: at most 200 bytes");
  if (s.hops_size() == 0 || static_cast<size_t>(s.hops_size()) > kMaxHops) {
    return invalid_argument(fmt::format("session.hops: 1 to {} instance names", kMaxHops));
  }
  for (int i = 0; i < s.hops_size(); ++i) {
    if (!valid_name(s.hops(i), 64)) {
      return invalid_argument(fmt::format("session.hops[{}]: an instance name is required", i));
    }
  }
  if (s.created_ns() < 0) return invalid_argument("session.created_ns: must not be negative");
  if (s.settings().has_inactive_timeout_ms() && s.settings().inactive_timeout_ms() < 0) {
    return invalid_argument("session.settings.inactive_timeout_ms: must not be negative");
  }
  return Status::ok_status();
}

std::string make_session_id(std::string_view destination, int64_t created_ns,
                            std::string_view collector, std::string_view source) {
  const std::time_t secs = static_cast<std::time_t>(created_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
  std::string id = fmt::format("{}.{}.{}.{}", destination, when, collector, source);
  if (id.size() > kMaxSessionIdBytes) id.resize(kMaxSessionIdBytes);
  return id;
}

}  // namespace sluice::link
