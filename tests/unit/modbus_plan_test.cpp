// Request planning (sources/modbus/modbus_plan.h): merging of near items per table within the
// protocol's limits, and the split of a refused request into one per item.
#include "sources/modbus/modbus_plan.h"

#include <gtest/gtest.h>

#include <numeric>

namespace sluice::sources::modbus {
namespace {

Item item(Table table, uint16_t address, DataType type = DataType::kUint16,
          uint16_t string_length = 0) {
  Item i;
  i.enc.table = table;
  i.enc.address = address;
  i.enc.type = is_bit_table(table) ? DataType::kBool : type;
  i.enc.string_length = string_length;
  return i;
}

std::vector<ReadRequest> plan_all(const std::vector<Item>& items, PlanOptions o = {}) {
  std::vector<size_t> which(items.size());
  std::iota(which.begin(), which.end(), 0);
  return plan_reads(items, which, o);
}

TEST(ModbusPlanTest, ContiguousItemsShareOneRequest) {
  std::vector<Item> items = {item(Table::kInputRegister, 4, DataType::kFloat32),
                             item(Table::kInputRegister, 0, DataType::kFloat32),
                             item(Table::kInputRegister, 2, DataType::kFloat32)};
  const std::vector<ReadRequest> plan = plan_all(items, {.max_gap = 0});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].address, 0);
  EXPECT_EQ(plan[0].count, 6);
  EXPECT_EQ(plan[0].items, (std::vector<size_t>{1, 2, 0}));
}

TEST(ModbusPlanTest, GapsUpToMaxGapAreReadThrough) {
  std::vector<Item> items = {item(Table::kHoldingRegister, 0), item(Table::kHoldingRegister, 5),
                             item(Table::kHoldingRegister, 20)};
  std::vector<ReadRequest> plan = plan_all(items, {.max_gap = 4});
  ASSERT_EQ(plan.size(), 2u);  // 0..5 (gap 4), then 20 (gap 14)
  EXPECT_EQ(plan[0].count, 6);
  EXPECT_EQ(plan[1].address, 20);
  plan = plan_all(items, {.max_gap = 3});
  EXPECT_EQ(plan.size(), 3u);
  plan = plan_all(items, {.max_gap = 14});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].count, 21);
}

TEST(ModbusPlanTest, RequestsStayWithinTheProtocolLimit) {
  std::vector<Item> items;
  for (uint16_t a = 0; a < 1000; ++a) items.push_back(item(Table::kHoldingRegister, a));
  std::vector<ReadRequest> plan = plan_all(items);
  ASSERT_EQ(plan.size(), 8u);  // ceil(1000 / 125)
  size_t covered = 0;
  for (const ReadRequest& r : plan) {
    EXPECT_LE(r.count, kMaxReadRegisters);
    covered += r.items.size();
  }
  EXPECT_EQ(covered, 1000u);
  // A 32-bit value is never cut across two requests.
  std::vector<Item> floats;
  for (uint16_t a = 0; a < 1000; a += 2)
    floats.push_back(item(Table::kInputRegister, a, DataType::kFloat32));
  plan = plan_all(floats);
  for (const ReadRequest& r : plan) {
    EXPECT_LE(r.count, kMaxReadRegisters);
    EXPECT_EQ(r.count % 2, 0);
  }
  EXPECT_EQ(plan.size(), 9u);  // 62 floats (124 registers) per request
  // Bits: 2000 per request; a smaller configured limit is kept too.
  std::vector<Item> coils;
  for (uint16_t a = 0; a < 3000; ++a) coils.push_back(item(Table::kCoil, a));
  EXPECT_EQ(plan_all(coils).size(), 2u);
  EXPECT_EQ(plan_all(coils, {.max_bits = 100}).size(), 30u);
}

TEST(ModbusPlanTest, TablesAreNeverMixed) {
  std::vector<Item> items = {item(Table::kHoldingRegister, 0), item(Table::kInputRegister, 1),
                             item(Table::kCoil, 0), item(Table::kDiscreteInput, 0),
                             item(Table::kHoldingRegister, 1)};
  const std::vector<ReadRequest> plan = plan_all(items);
  ASSERT_EQ(plan.size(), 4u);
  for (const ReadRequest& r : plan) {
    for (const size_t i : r.items) EXPECT_EQ(items[i].enc.table, r.table);
  }
}

TEST(ModbusPlanTest, OverlappingItemsShareTheirRegisters) {
  // A uint32 at 10 and its low word as a uint16 at 11.
  std::vector<Item> items = {item(Table::kHoldingRegister, 10, DataType::kUint32),
                             item(Table::kHoldingRegister, 11)};
  const std::vector<ReadRequest> plan = plan_all(items, {.max_gap = 0});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].count, 2);
}

TEST(ModbusPlanTest, OnlyTheGivenItemsArePlanned) {
  std::vector<Item> items = {item(Table::kHoldingRegister, 0), item(Table::kHoldingRegister, 1),
                             item(Table::kHoldingRegister, 2)};
  const std::vector<size_t> which = {0, 2};
  const std::vector<ReadRequest> plan = plan_reads(items, which, {.max_gap = 0});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].items, std::vector<size_t>{0});
  EXPECT_EQ(plan[1].items, std::vector<size_t>{2});
}

TEST(ModbusPlanTest, SplitGivesOneRequestPerItem) {
  std::vector<Item> items = {item(Table::kHoldingRegister, 0, DataType::kInt32),
                             item(Table::kHoldingRegister, 5, DataType::kString, 3)};
  const std::vector<ReadRequest> plan = plan_all(items);
  ASSERT_EQ(plan.size(), 1u);
  const std::vector<ReadRequest> parts = split_request(items, plan[0]);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].address, 0);
  EXPECT_EQ(parts[0].count, 2);
  EXPECT_EQ(parts[1].address, 5);
  EXPECT_EQ(parts[1].count, 3);
}

}  // namespace
}  // namespace sluice::sources::modbus
