#include "fuzz/api_targets.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http_server.h"
#include "api/query_params.h"

namespace sluice::fuzz {

int api_params(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  std::string decoded;
  if (api::percent_decode(in.substr(0, nl), &decoded) && decoded.size() > in.size()) abort();
  for (const std::string_view part : {in, in.substr(0, nl)}) {
    Timestamp ts = 0;
    api::ParamError error;
    (void)api::parse_time_param("from", part, &ts, &error);
    uint64_t n = 0;
    if (api::parse_count_param("limit", part, 1, 100000, &n, &error) && (n < 1 || n > 100000)) {
      abort();
    }
  }
  return 0;
}

}  // namespace sluice::fuzz
