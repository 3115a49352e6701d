// The `modbus` source: polls Modbus TCP devices through libmodbus and ingests their values as
// `<asset>.<datapoint>` series; writes set points and runs operations for the control
// dispatcher and the API.
//
// Devices are independent: each has its own thread and its own libmodbus context, so a device
// that times out or is unreachable never stalls the others, and never fails the service as a
// whole (start() returns only when the source is stopped). A device that cannot be reached is
// retried with a back-off that doubles from reconnect_min to reconnect_max; its items get Bad
// samples (BadNotConnected) at each failed attempt. A request that times out gives its items
// BadTimeout and the connection is made again (a late answer must not be taken for the next
// one); an exception from the device (illegal address, busy, ...) gives the request's items a
// Bad quality (illegal function, address or value: BadConfigurationError, the map does not fit
// the device; device failure or busy: BadDeviceFailure; gateway errors: BadNoCommunication),
// is counted and shown in HEALTH with what to do. A merged request refused with "illegal data
// address" is split into one request per item, so that only the items that do not exist stay
// Bad.
//
// Control: write() and operation() are called from other threads (the API) while start() runs.
// They take the device's mutex, which the poll thread also holds around each request, so a
// write goes out between two poll requests on the same connection (connecting first if it is
// down). While the source is not running they are refused with kUnavailable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/service.h"
#include "runtime/source_types.h"
#include "sources/modbus/modbus_map.h"
#include "sources/modbus/modbus_plan.h"

namespace sluice::sources {

namespace modbus {

struct DeviceOptions {
  std::string name;
  std::string host;
  int port = 502;
  int unit_id = 1;
  std::chrono::nanoseconds timeout{std::chrono::seconds(1)};
  std::chrono::nanoseconds reconnect_min{std::chrono::seconds(1)};
  std::chrono::nanoseconds reconnect_max{std::chrono::seconds(60)};
  PlanOptions plan;
  std::string map_file;  // as given (resolved), for the summary
  DeviceMap map;         // groups[0] is the default group, at the device's `interval`
};

struct ModbusOptions {
  std::vector<DeviceOptions> devices;
};

class Device;

}  // namespace modbus

class ModbusSource final : public runtime::Source {
 public:
  ModbusSource(std::string name, modbus::ModbusOptions options);
  ~ModbusSource() override;

  std::string_view type() const override { return "modbus"; }
  Status start(runtime::SourceContext& ctx) override;
  void stop() override;

  Status write(std::string_view name, const Value& value) override;
  Status operation(std::string_view name, const runtime::OperationParams& params) override;
  std::vector<runtime::ControlPoint> control_points() const override;

  // requests, samples, exceptions, timeouts, connection_errors, connects, writes, write_errors,
  // last_error; then one line per device with its state.
  runtime::SinkDetails details() const override;

  // Counters over all devices since construction; thread-safe.
  struct Counters {
    uint64_t requests = 0;
    uint64_t samples = 0;
    uint64_t exceptions = 0;
    uint64_t timeouts = 0;
    uint64_t connection_errors = 0;
    uint64_t connects = 0;
    uint64_t writes = 0;
    uint64_t write_errors = 0;
  };
  Counters counters() const;
  Counters device_counters(std::string_view device) const;

  // Recomputes HEALTH from the devices' states (called by the device threads).
  void update_health();

 private:
  const modbus::ModbusOptions options_;
  std::vector<std::unique_ptr<modbus::Device>> devices_;  // built once; each guards itself

  std::shared_mutex run_mu_;
  bool running_ = false;  // guarded by run_mu_; write() and operation() need it
  std::mutex health_mu_;  // serializes update_health()
};

class ModbusSettings final : public runtime::SourceSettings {
 public:
  explicit ModbusSettings(modbus::ModbusOptions options) : options_(std::move(options)) {}
  const modbus::ModbusOptions& options() const { return options_; }
  std::string summary() const override;
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override;

 private:
  modbus::ModbusOptions options_;
};

// Reads the modbus keys of a [[sources]] table (see docs/configuration.md, "modbus").
std::shared_ptr<const runtime::SourceSettings> parse_modbus_settings(runtime::ConfigTable& table);

// Adds the "modbus" type to the catalogue.
void register_modbus(runtime::SourceTypes& types);

}  // namespace sluice::sources
