// Series metadata: merge, change detection, write-through to the state database.
#include "runtime/series_registry.h"

#include <mutex>

namespace sluice::runtime {
namespace {

bool same(const SeriesMeta& a, const SeriesMeta& b) {
  return a.unit == b.unit && a.description == b.description && a.labels == b.labels &&
         a.source == b.source;
}

// `update` on top of `known`: empty fields keep what is known.
SeriesMeta merged(const SeriesMeta& known, const SeriesMeta& update) {
  SeriesMeta m = known;
  if (!update.unit.empty()) m.unit = update.unit;
  if (!update.description.empty()) m.description = update.description;
  if (!update.labels.empty()) m.labels = update.labels;
  if (!update.source.empty()) m.source = update.source;
  return m;
}

}  // namespace

Result<std::unique_ptr<SeriesRegistry>> SeriesRegistry::open(std::unique_ptr<StateDb> db) {
  std::unique_ptr<SeriesRegistry> r(new SeriesRegistry(std::move(db)));
  SLUICE_ASSIGN_OR_RETURN(std::vector<SeriesMeta> all, r->db_->all_series());
  for (SeriesMeta& m : all) {
    std::string name = m.name;
    r->known_.emplace(std::move(name), std::move(m));
  }
  return r;
}

Status SeriesRegistry::update(const std::vector<SeriesMeta>& meta, std::string_view source) {
  std::vector<SeriesMeta> changed;
  {
    std::shared_lock lock(mu_);
    for (SeriesMeta m : meta) {
      if (m.name.empty()) continue;
      if (m.source.empty()) m.source = std::string(source);
      auto it = known_.find(std::string_view(m.name));
      if (it == known_.end()) {
        changed.push_back(std::move(m));
      } else {
        SeriesMeta next = merged(it->second, m);
        if (!same(next, it->second)) changed.push_back(std::move(next));
      }
    }
  }
  if (changed.empty()) return Status::ok_status();
  SLUICE_RETURN_IF_ERROR(db_->upsert_series(changed));
  std::unique_lock lock(mu_);
  for (SeriesMeta& m : changed) {
    auto it = known_.find(std::string_view(m.name));
    if (it == known_.end()) {
      std::string name = m.name;
      known_.emplace(std::move(name), std::move(m));
    } else {
      it->second = merged(it->second, m);
    }
  }
  return Status::ok_status();
}

std::optional<SeriesMeta> SeriesRegistry::find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = known_.find(name);
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

size_t SeriesRegistry::size() const {
  std::shared_lock lock(mu_);
  return known_.size();
}

}  // namespace sluice::runtime
