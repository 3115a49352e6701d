// Greedy merging of items into read requests, table by table in address order.
#include "sources/modbus/modbus_plan.h"

#include <algorithm>

namespace sluice::sources::modbus {

std::vector<ReadRequest> plan_reads(const std::vector<Item>& items, std::span<const size_t> which,
                                    const PlanOptions& options) {
  std::vector<ReadRequest> out;
  for (const Table table :
       {Table::kCoil, Table::kDiscreteInput, Table::kInputRegister, Table::kHoldingRegister}) {
    std::vector<size_t> sorted;
    for (const size_t i : which) {
      if (items[i].enc.table == table) sorted.push_back(i);
    }
    std::stable_sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) {
      return items[a].enc.address < items[b].enc.address;
    });
    const uint32_t limit = is_bit_table(table) ? options.max_bits : options.max_registers;
    ReadRequest current;
    uint32_t end = 0;  // one past the last address of `current`
    for (const size_t i : sorted) {
      const uint32_t a = items[i].enc.address;
      const uint32_t e = a + items[i].enc.count();
      const bool fits = !current.items.empty() && a <= end + options.max_gap &&
                        std::max(end, e) - current.address <= limit;
      if (!fits) {
        if (!current.items.empty()) out.push_back(std::move(current));
        current = ReadRequest{table, static_cast<uint16_t>(a), 0, {}};
        end = a;
      }
      end = std::max(end, e);
      current.count = static_cast<uint16_t>(end - current.address);
      current.items.push_back(i);
    }
    if (!current.items.empty()) out.push_back(std::move(current));
  }
  return out;
}

std::vector<ReadRequest> split_request(const std::vector<Item>& items, const ReadRequest& request) {
  std::vector<ReadRequest> out;
  for (const size_t i : request.items) {
    out.push_back(ReadRequest{request.table, items[i].enc.address, items[i].enc.count(), {i}});
  }
  return out;
}

}  // namespace sluice::sources::modbus
