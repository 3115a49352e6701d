// Fuzz target: a segment file's bytes as recovery, readers and fsck see them (record headers,
// checksums, resynchronisation), plus the STATE file and series catalog parsers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "io/mem_env.h"
#include "store/catalog.h"
#include "store/format.h"
#include "store/fsck.h"
#include "store/segment_scanner.h"
#include "store/store.h"
#include "store/stream_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)store::decode_stream_state(bytes);
  store::parse_catalog(bytes, [](uint32_t, std::string_view) {}, [](uint64_t, uint64_t, bool) {});

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
