// Request planning: which read requests cover a poll group's items. Items of one table are
// merged into one request while the request stays within the protocol's limit (125 registers,
// 2000 coils or discrete inputs, or less if configured) and the unread gap between neighbours
// is at most `max_gap` addresses, so that a map of many small values costs few round trips.
// Pure: no sockets, tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sources/modbus/modbus_map.h"

namespace sluice::sources::modbus {

inline constexpr uint16_t kMaxReadRegisters = 125;  // function codes 3 and 4
inline constexpr uint16_t kMaxReadBits = 2000;      // function codes 1 and 2

struct PlanOptions {
  uint16_t max_gap = 16;                       // addresses read and thrown away to merge two items
  uint16_t max_registers = kMaxReadRegisters;  // per request, 1–125
  uint16_t max_bits = kMaxReadBits;            // per request, 1–2000
};

struct ReadRequest {
  Table table = Table::kHoldingRegister;
  uint16_t address = 0;
  uint16_t count = 0;
  std::vector<size_t> items;  // indices into the item list, each inside [address, address+count)
};

// The requests that read `which` (indices into `items`): grouped by table, in address order.
// Every index in `which` is in exactly one request. Items are assumed valid (address + count
// within 65536, count within the limit).
std::vector<ReadRequest> plan_reads(const std::vector<Item>& items, std::span<const size_t> which,
                                    const PlanOptions& options);

// One request per item of `request` (used when a merged request is refused with "illegal data
// address": some address in its span does not exist, so each item is read on its own).
std::vector<ReadRequest> split_request(const std::vector<Item>& items, const ReadRequest& request);

}  // namespace sluice::sources::modbus
