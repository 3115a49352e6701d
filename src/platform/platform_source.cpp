// The platform source: the store side of the adapters. See platform_source.h.
#include "platform/platform_source.h"

#include <fmt/format.h>

#include "runtime/config_table.h"

namespace sluice::platform {
namespace {

class PlatformSettings final : public runtime::SourceSettings {
 public:
  explicit PlatformSettings(PlatformSourceOptions options) : options_(options) {}
  std::string summary() const override {
    return fmt::format(
        "things' messages over HTTP (POST /channels/{{id}}/messages), up to {} "
        "bytes each",
        options_.max_message_bytes);
  }
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override {
    return std::unique_ptr<runtime::Source>(std::make_unique<PlatformSource>(name, options_));
  }

 private:
  PlatformSourceOptions options_;
};

std::shared_ptr<const runtime::SourceSettings> parse_settings(runtime::ConfigTable& t) {
  PlatformSourceOptions o;
  o.max_message_bytes = static_cast<size_t>(
      t.size("max_message_bytes", o.max_message_bytes, "a size from 1KiB to 64MiB, e.g. \"1MiB\"",
             [](uint64_t v) { return v >= 1024 && v <= (64u << 20); }));
  return std::make_shared<PlatformSettings>(o);
}

}  // namespace

PlatformSource::PlatformSource(std::string name, PlatformSourceOptions options)
    : Source(std::move(name)), options_(options) {}

Status PlatformSource::start(runtime::SourceContext& ctx) {
  set_health(runtime::HealthState::kHealthy);
  while (ctx.sleep_until(ctx.clock().monotonic() + 3'600'000'000'000)) {
  }
  set_health(runtime::HealthState::kNotApplicable);
  return Status::ok_status();
}

Result<size_t> PlatformSource::accept(runtime::SourceContext& ctx, const Message& message) {
  thread_local MessageNormalizer normalizer;
  formats::Parsed parsed;
  Status st = normalizer.normalize(message, &parsed);
  if (!st.ok()) {
    refuse("payload");
    return st;
  }
  const size_t n = parsed.batch.samples.size();
  if (n == 0) {
    refuse("empty");
    return invalid_argument("the message holds no values");
  }
  SLUICE_RETURN_IF_ERROR(ctx.update_series(parsed.meta));
  Result<store::AppendResult> appended = ctx.ingest(std::move(parsed.batch));
  if (!appended.ok()) {
    refuse("store");
    return appended.status();
  }
  messages_.fetch_add(1, std::memory_order_relaxed);
  samples_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

void PlatformSource::refuse(std::string_view reason) {
  std::lock_guard lock(refused_mu_);
  auto it = refused_.find(reason);
  if (it == refused_.end()) it = refused_.emplace(std::string(reason), 0).first;
  ++it->second;
}

runtime::SinkDetails PlatformSource::details() const {
  runtime::SinkDetails out = {{"messages", std::to_string(messages())},
                              {"samples", std::to_string(samples())}};
  std::lock_guard lock(refused_mu_);
  uint64_t total = 0;
  for (const auto& [reason, n] : refused_) total += n;
  out.push_back({"refused", std::to_string(total)});
  for (const auto& [reason, n] : refused_) out.push_back({"refused_" + reason, std::to_string(n)});
  return out;
}

void register_platform_source(runtime::SourceTypes& types) {
  types.add({std::string(kPlatformSourceType), parse_settings});
}

}  // namespace sluice::platform
