// The bodies of the fuzz targets, shared by the libFuzzer mains in fuzz/*_fuzz.cpp and by the
// unit test that replays every kept corpus input (tests/unit/fuzz_corpus_test.cpp).
#include "fuzz/targets.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "cli/builtin_sources.h"
#include "core/batch_codec.h"
#include "io/mem_env.h"
#include "runtime/config.h"
#include "store/catalog.h"
#include "store/format.h"
#include "store/fsck.h"
#include "store/segment_scanner.h"
#include "store/store.h"
#include "store/stream_state.h"

namespace sluice::fuzz {
using namespace sluice;

int batch_codec(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  DecodeLimits limits;
  limits.max_samples = 1 << 16;
  limits.max_raw_bytes = 1 << 22;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string raw;
  std::string_view payload = bytes;
  const auto comp = static_cast<Compression>(data[0] % 3);
  if (comp != Compression::kNone) {
    if (!decompress_payload(bytes, comp, static_cast<uint32_t>(bytes.size()) * 4, limits, &raw)
             .ok()) {
      return 0;
    }
    payload = raw;
  }
  sluice::Batch batch;
  (void)decode_batch(
      payload, [](uint32_t id) { return std::to_string(id); }, limits, &batch);
  std::vector<uint32_t> ids, counts;
  (void)scan_series_ids(payload, limits, &ids, &counts);
  return 0;
}

int segment(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)store::decode_stream_state(bytes);
  store::parse_catalog(
      bytes, [](uint32_t, std::string_view) {}, [](uint64_t, uint64_t, bool) {});

  // The bytes as the tail segment of a stream: open the store (recovery), read it, fsck it.
  MemEnv env;
  (void)env.create_dirs("/s/streams/x");
  (void)write_file_atomic(env, "/s/STORE", "sluice-store 1\n");
  std::string seg(store::format::kSegmentHeaderSize, '\0');
  store::format::encode_segment_header({0, 0}, seg.data());
  seg.append(bytes);
  (void)write_file_atomic(env, "/s/streams/x/" + store::format::segment_file_name(0), seg);
  store::StoreOptions options;
  options.dir = "/s";
  options.min_free_bytes = 0;
  {
    auto st = store::Store::open(env, options);
    if (st.ok()) {
      auto reader = (*st)->open_reader("x", 0);
      store::ReadItem item;
      for (int i = 0; i < 1000 && reader.ok(); ++i) {
        auto more = (*reader)->next(4096, &item);
        if (!more.ok() || !*more) break;
      }
    }
  }
  std::ostringstream out;
  (void)store::fsck(env, "/s", {}, out);
  return 0;
}

int config(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<runtime::ConfigError> errors;
  (void)runtime::parse_config(text, "fuzz.toml", cli::builtin_source_types(), &errors);
  return 0;
}

}  // namespace sluice::fuzz
