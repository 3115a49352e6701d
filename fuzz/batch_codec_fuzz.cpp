// Fuzz target: the batch payload decoder (store records, forward frames) and decompression.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/batch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
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
  Batch batch;
  (void)decode_batch(payload, [](uint32_t id) { return std::to_string(id); }, limits, &batch);
  std::vector<uint32_t> ids, counts;
  (void)scan_series_ids(payload, limits, &ids, &counts);
  return 0;
}
