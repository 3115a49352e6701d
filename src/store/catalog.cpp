// Series catalog: load with damage handling, resolve names to ids, append and sync entries.
#include "store/catalog.h"

#include <fmt/format.h>

#include <cstring>
#include <functional>
#include <mutex>

#include "core/crc32c.h"
#include "store/format.h"
#include "store/store.h"

namespace sluice::store {
namespace {

constexpr uint64_t kMaxCatalogBytes = 1ull << 32;

uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t get16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Is there a valid entry at `off`? Sets its total size.
bool entry_at(std::string_view bytes, uint64_t off, uint32_t* id, std::string_view* name,
              uint64_t* size) {
  if (off + format::kCatalogEntryHeader > bytes.size()) return false;
  const char* p = bytes.data() + off;
  const uint16_t len = get16(p + 8);
  if (len == 0 || len > format::kMaxSeriesName) return false;
  if (off + format::kCatalogEntryHeader + len > bytes.size()) return false;
  const uint32_t want = crc32c_unmask(get32(p));
  if (crc32c(p + 4, format::kCatalogEntryHeader - 4 + len) != want) return false;
  *id = get32(p + 4);
  *name = std::string_view(p + format::kCatalogEntryHeader, len);
  *size = format::kCatalogEntryHeader + len;
  return true;
}

}  // namespace

std::string encode_catalog_entry(uint32_t id, std::string_view name) {
  std::string e(format::kCatalogEntryHeader + name.size(), '\0');
  const auto len = static_cast<uint16_t>(name.size());
  std::memcpy(e.data() + 4, &id, 4);
  std::memcpy(e.data() + 8, &len, 2);
  std::memcpy(e.data() + format::kCatalogEntryHeader, name.data(), name.size());
  const uint32_t crc = crc32c_mask(crc32c(e.data() + 4, e.size() - 4));
  std::memcpy(e.data(), &crc, 4);
  return e;
}

uint64_t parse_catalog(std::string_view bytes,
                       const std::function<void(uint32_t, std::string_view)>& entry,
                       const std::function<void(uint64_t, uint64_t, bool)>& damage) {
  uint64_t off = 0;
  uint64_t good_end = 0;
  while (off < bytes.size()) {
    uint32_t id = 0;
    std::string_view name;
    uint64_t size = 0;
    if (entry_at(bytes, off, &id, &name, &size)) {
      entry(id, name);
      off += size;
      good_end = off;
      continue;
    }
    // Damage: find the next offset where a valid entry starts.
    uint64_t probe = off + 1;
    while (probe < bytes.size() && !entry_at(bytes, probe, &id, &name, &size)) ++probe;
    const bool tail = probe >= bytes.size();
    damage(off, probe - off, tail);
    off = probe;
  }
  return good_end;
}

Result<std::unique_ptr<SeriesCatalog>> SeriesCatalog::open(Env& env, const std::string& path,
                                                           RecoveryReport* report) {
  std::unique_ptr<SeriesCatalog> cat(new SeriesCatalog(env, path));
  uint64_t keep = 0;
  if (env.exists(path)) {
    SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(env, path, kMaxCatalogBytes));
    keep = parse_catalog(
        bytes,
        [&](uint32_t id, std::string_view name) {
          if (cat->ids_.contains(name)) return;  // the first entry for a name wins
          cat->ids_.emplace(std::string(name), id);
          if (id >= cat->names_.size()) cat->names_.resize(static_cast<size_t>(id) + 1);
          cat->names_[id] = std::string(name);
          cat->next_id_ = std::max(cat->next_id_, id + 1);
        },
        [&](uint64_t off, uint64_t len, bool tail) {
          if (report == nullptr) return;
          report->messages.push_back(fmt::format("{}: {} damaged bytes at offset {} {}", path, len,
                                                 off, tail ? "(torn tail, cut)" : "(skipped)"));
          if (tail) report->truncated_bytes += len;
        });
    if (keep < bytes.size()) {
      // Cut the torn tail (or trailing damage) so new entries follow the last good one.
      SLUICE_RETURN_IF_ERROR(env.truncate(path, keep));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(cat->file_, env.open_writable(path, OpenMode::kAppend));
  if (keep == 0) SLUICE_RETURN_IF_ERROR(env.sync_dir(parent_dir(path)));
  return cat;
}

Status SeriesCatalog::resolve(const Batch& batch, std::vector<uint32_t>* ids) {
  ids->resize(batch.samples.size());
  bool missing = false;
  {
    std::shared_lock lock(mu_);
    for (size_t i = 0; i < batch.samples.size(); ++i) {
      auto it = ids_.find(std::string_view(batch.samples[i].series));
      if (it == ids_.end()) {
        missing = true;
        (*ids)[i] = UINT32_MAX;
      } else {
        (*ids)[i] = it->second;
      }
    }
  }
  if (!missing) return {};
  std::unique_lock lock(mu_);
  std::string entries;
  const uint32_t first_new = next_id_;
  for (size_t i = 0; i < batch.samples.size(); ++i) {
    if ((*ids)[i] != UINT32_MAX) continue;
    const std::string& name = batch.samples[i].series;
    if (name.empty() || name.size() > format::kMaxSeriesName) {
      // Roll back ids handed out in this call: nothing was written yet.
      for (uint32_t id = first_new; id < next_id_; ++id) ids_.erase(names_[id]);
      names_.resize(first_new);
      next_id_ = first_new;
      return invalid_argument(fmt::format("series name of {} bytes (must be 1..{})", name.size(),
                                          format::kMaxSeriesName));
    }
    auto it = ids_.find(std::string_view(name));
    if (it != ids_.end()) {
      (*ids)[i] = it->second;
      continue;
    }
    const uint32_t id = next_id_++;
    ids_.emplace(name, id);
    if (names_.size() <= id) names_.resize(static_cast<size_t>(id) + 1);
    names_[id] = name;
    entries += encode_catalog_entry(id, name);
    (*ids)[i] = id;
  }
  if (entries.empty()) return {};
  const uint64_t before = file_->size();
  Status st = file_->append(entries);
  if (st.ok()) st = file_->sync();
  if (!st.ok()) {
    (void)file_->truncate(before);
    for (uint32_t id = first_new; id < next_id_; ++id) ids_.erase(names_[id]);
    names_.resize(first_new);
    next_id_ = first_new;
    return st.with_context(path_);
  }
  return {};
}

std::string SeriesCatalog::name(uint32_t id) const {
  std::shared_lock lock(mu_);
  if (id < names_.size() && !names_[id].empty()) return names_[id];
  return fmt::format("?series-{}", id);
}

std::optional<uint32_t> SeriesCatalog::find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = ids_.find(name);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

size_t SeriesCatalog::size() const {
  std::shared_lock lock(mu_);
  return ids_.size();
}

Status SeriesCatalog::close() {
  std::unique_lock lock(mu_);
  if (file_) {
    Status st = file_->close();
    file_.reset();
    return st;
  }
  return {};
}

}  // namespace sluice::store
