// The `opcua` source (see opcua_source.h).
#include "sources/opcua/opcua_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "core/quality.h"
#include "ingest/filter.h"
#include "protocols/opcua/node_ids.h"
#include "protocols/opcua/status_codes.h"

namespace sluice::sources {
namespace {

using namespace opcua;  // NOLINT(google-build-using-namespace): this file speaks OPC UA

// CreateMonitoredItems and Read are sent in requests of at most this many items.
constexpr size_t kItemsPerRequest = 1000;
// Publish requests kept at the server.
constexpr size_t kPublishRequests = 3;

int64_t wall_ns(runtime::SourceContext& ctx) { return ctx.clock().now(); }

// A Variant array as JSON-like text ("[1.25,-2.5]"), so that arrays are kept, not dropped.
std::string array_text(const Variant& v) {
  std::string out = "[";
  bool first = true;
  auto add = [&](const std::string& s) {
    if (!first) out += ",";
    first = false;
    out += s;
  };
  std::visit(
      [&](const auto& values) {
        using V = std::decay_t<decltype(values)>;
        if constexpr (std::is_same_v<V, std::monostate>) {
        } else {
          for (const auto& e : values) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, bool>) {
              add(e ? "true" : "false");
            } else if constexpr (std::is_arithmetic_v<E>) {
              add(fmt::format("{}", +e));
            } else if constexpr (std::is_same_v<E, std::string>) {
              add(fmt::format("\"{}\"", e));
            } else {
              add("\"?\"");
            }
          }
        }
      },
      v.values());
  return out + "]";
}

// A DataValue as a Sluice sample of `series`.
Sample to_sample(const std::string& series, const DataValue& dv, int64_t arrival_ns) {
  Sample s;
  s.series = series;
  s.quality = dv.status;
  if (dv.source_timestamp != 0) {
    s.ts = datetime_to_unix_ns(dv.source_timestamp) + dv.source_picoseconds / 100;
  } else if (dv.server_timestamp != 0) {
    s.ts = datetime_to_unix_ns(dv.server_timestamp);
  } else {
    s.ts = arrival_ns;
  }
  if (dv.value.is_array()) {
    s.value = array_text(dv.value);
  } else if (!dv.value.is_null()) {
    Result<Value> v = to_value(dv.value);
    if (v.ok()) {
      s.value = std::move(v).value();
    } else {
      s.value = describe(dv.value);  // a structure: its description, not lost silently
      if (is_good(s.quality)) s.quality = quality::kUncertain;
    }
  }
  return s;
}

// The built-in type a data type node stands for (the built-ins and their common subtypes).
std::optional<BuiltinType> builtin_of_data_type(const NodeId& id) {
  if (id.ns != 0 || id.kind != NodeId::Kind::kNumeric) return std::nullopt;
  if (id.numeric >= 1 && id.numeric <= 25) return static_cast<BuiltinType>(id.numeric);
  switch (id.numeric) {
    case 26: return BuiltinType::kDouble;     // Number
    case 27: return BuiltinType::kInt64;      // Integer
    case 28: return BuiltinType::kUInt64;     // UInteger
    case 29: return BuiltinType::kInt32;      // Enumeration
    case 288: return BuiltinType::kUInt32;    // IntegerId
    case 289: return BuiltinType::kUInt32;    // Counter
    case 290: return BuiltinType::kDouble;    // Duration
    case 294: return BuiltinType::kDateTime;  // UtcTime
    case 295: return BuiltinType::kString;    // LocaleId
    default: return std::nullopt;
  }
}

// A write's or call's Bad status as a Status the control API maps: a wrong value is the
// caller's error, anything else the device's refusal.
Status refused(StatusCode code, const std::string& what) {
  const Code c = (status::code_part(code) == status::kBadTypeMismatch ||
                  status::code_part(code) == status::kBadOutOfRange)
                     ? Code::kInvalidArgument
                     : Code::kIoError;
  return Status(c, fmt::format("{}: the server answered {}", what, status_to_string(code)));
}

ValueType value_type_of(BuiltinType t) {
  switch (t) {
    case BuiltinType::kBoolean: return ValueType::kBool;
    case BuiltinType::kFloat:
    case BuiltinType::kDouble: return ValueType::kDouble;
    case BuiltinType::kSByte:
    case BuiltinType::kByte:
    case BuiltinType::kInt16:
    case BuiltinType::kUInt16:
    case BuiltinType::kInt32:
    case BuiltinType::kUInt32:
    case BuiltinType::kInt64:
    case BuiltinType::kUInt64:
    case BuiltinType::kDateTime:
    case BuiltinType::kStatusCode: return ValueType::kInt64;
    default: return ValueType::kString;
  }
}

}  // namespace

OpcuaSource::OpcuaSource(std::string name, OpcuaOptions options)
    : Source(std::move(name)), options_(std::move(options)) {}

OpcuaSource::~OpcuaSource() = default;

void OpcuaSource::stop() {
  stopping_ = true;
  std::lock_guard lock(control_mu_);
  if (client_) client_->abort();
}

Status OpcuaSource::client_ready() const {
  if (!client_ || !connected_) {
    std::lock_guard lock(detail_mu_);
    return Status(
        Code::kUnavailable,
        fmt::format("source '{}' is not connected to {}{}", name(), options_.client.endpoint_url,
                    last_error_.empty() ? "" : " (" + last_error_ + ")"));
  }
  return Status::ok_status();
}

Status OpcuaSource::start(runtime::SourceContext& ctx) {
  opcua::ClientConfig config = options_.client;
  config.identity.directory =
      options_.pki_dir.empty() ? ctx.instance_info().data_dir + "/opcua-pki" : options_.pki_dir;
  config.session_name = "sluice:" + name();
  {
    std::lock_guard lock(control_mu_);
    client_ = std::make_unique<Client>(config);
    if (stopping_) client_->abort();
  }
  const Status s = run(ctx);
  connected_ = false;
  client_->close();
  return s;
}

Status OpcuaSource::resolve_items() {
  items_.clear();
  const std::vector<std::string> namespaces = client_->namespace_array();
  const std::string asset = options_.asset.empty() ? name() : options_.asset;
  std::vector<size_t> need_names;
  for (const OpcuaNodeSpec& spec : options_.nodes) {
    Result<NodeId> id =
        spec.path.empty() ? parse_node_id(spec.node_id, namespaces) : follow_path(spec.path);
    if (!id.ok()) {
      return id.status().with_context(spec.path.empty() ? "node_id '" + spec.node_id + "'"
                                                        : "path '" + spec.path + "'");
    }
    Item item;
    item.node = *id;
    item.series = spec.series;
    item.sampling_interval_ms = spec.sampling_interval_ms.value_or(options_.sampling_interval_ms);
    item.queue_size = spec.queue_size.value_or(options_.queue_size);
    if (item.series.empty()) need_names.push_back(items_.size());
    items_.push_back(std::move(item));
  }
  if (!need_names.empty()) {
    // <asset>.<browse name> for nodes without a series.
    std::vector<ReadValueId> reads;
    for (size_t i : need_names) reads.push_back({items_[i].node, AttributeId::kBrowseName, {}, {}});
    SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> names, client_->read(reads));
    for (size_t k = 0; k < need_names.size(); ++k) {
      Item& item = items_[need_names[k]];
      const QualifiedName* qn = names[k].value.scalar<QualifiedName>();
      item.series =
          asset + "." + (qn != nullptr && !qn->name.empty() ? qn->name : item.node.to_string());
    }
  }
  for (const OpcuaBrowseSpec& spec : options_.browse) SLUICE_RETURN_IF_ERROR(browse_subtree(spec));
  if (items_.empty()) {
    return failed_precondition("no variables found: check the node ids and browse patterns");
  }
  spdlog::info("source '{}': {} OPC UA variables to {}", name(), items_.size(),
               options_.subscribe ? "subscribe to" : "poll");
  return Status::ok_status();
}

Result<NodeId> OpcuaSource::follow_path(const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<QualifiedName> names, parse_browse_path(path));
  BrowsePath bp;
  bp.starting_node = NodeId::make_numeric(0, ids::kObjectsFolder);
  for (QualifiedName& qn : names) {
    RelativePathElement e;
    e.target_name = std::move(qn);
    bp.relative_path.elements.push_back(std::move(e));
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<BrowsePathResult> r, client_->translate({bp}));
  if (is_bad(r[0].status_code) || r[0].targets.empty()) {
    return not_found(fmt::format("the server finds no node at browse path '{}' (from Objects): {}",
                                 path, status_to_string(r[0].status_code)));
  }
  return resolve(r[0].targets[0].target_id, client_->namespace_array());
}

Status OpcuaSource::browse_subtree(const OpcuaBrowseSpec& spec) {
  const std::vector<std::string> namespaces = client_->namespace_array();
  Result<NodeId> root = !spec.root_path.empty()
                            ? follow_path(spec.root_path)
                            : parse_node_id(spec.root.empty() ? "i=85" : spec.root, namespaces);
  if (!root.ok()) {
    return root.status().with_context("browse root '" +
                                      (spec.root_path.empty() ? spec.root : spec.root_path) + "'");
  }
  std::string asset = spec.asset;
  if (asset.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> name_of,
                            client_->read({{*root, AttributeId::kBrowseName, {}, {}}}));
    const QualifiedName* qn = name_of[0].value.scalar<QualifiedName>();
    asset = qn != nullptr ? qn->name : root->to_string();
  }
  struct Pending {
    NodeId node;
    std::string path;
    int depth;
  };
  std::vector<Pending> stack{{*root, "", 0}};
  std::set<NodeId> seen{*root};
  while (!stack.empty()) {
    Pending at = std::move(stack.back());
    stack.pop_back();
    BrowseDescription d;
    d.node_id = at.node;
    d.node_class_mask =
        static_cast<uint32_t>(NodeClass::kObject) | static_cast<uint32_t>(NodeClass::kVariable);
    SLUICE_ASSIGN_OR_RETURN(std::vector<ReferenceDescription> refs, client_->browse(d));
    for (const ReferenceDescription& ref : refs) {
      if (ref.reference_type_id == NodeId::make_numeric(0, ids::kHasProperty)) continue;
      if (!ref.node_id.is_local()) continue;
      Result<NodeId> target = resolve(ref.node_id, namespaces);
      if (!target.ok() || !seen.insert(*target).second) continue;
      const std::string path =
          at.path.empty() ? ref.browse_name.name : at.path + "." + ref.browse_name.name;
      if (ref.node_class == NodeClass::kVariable) {
        const bool included =
            spec.include.empty() ||
            std::any_of(spec.include.begin(), spec.include.end(),
                        [&](const std::string& p) { return ingest::glob_match(p, path); });
        const bool excluded =
            std::any_of(spec.exclude.begin(), spec.exclude.end(),
                        [&](const std::string& p) { return ingest::glob_match(p, path); });
        if (included && !excluded) {
          if (items_.size() >= options_.max_items) {
            return Status(Code::kResourceExhausted,
                          fmt::format("browsing '{}' found more than max_items = {} variables; "
                                      "narrow it with include/exclude or raise max_items",
                                      spec.root, options_.max_items));
          }
          Item item;
          item.node = *target;
          item.series = asset + "." + path;
          item.sampling_interval_ms = options_.sampling_interval_ms;
          item.queue_size = options_.queue_size;
          items_.push_back(std::move(item));
        }
      }
      if (at.depth + 1 < spec.max_depth) stack.push_back({*target, path, at.depth + 1});
    }
  }
  return Status::ok_status();
}

Status OpcuaSource::create_subscription() {
  CreateSubscriptionRequest req;
  req.requested_publishing_interval = options_.publishing_interval_ms;
  // The server closes a subscription nobody publishes for after lifetime_count intervals.
  // Three session timeouts: when an outage outlasts the session, the subscription (and the
  // values it queued) is still there for the new session to take over.
  const double session_ms = static_cast<double>(options_.client.session_timeout.count());
  req.requested_max_keep_alive_count =
      static_cast<uint32_t>(std::clamp(5000.0 / options_.publishing_interval_ms, 1.0, 100.0));
  req.requested_lifetime_count = std::max<uint32_t>(
      req.requested_max_keep_alive_count * 3,
      static_cast<uint32_t>(3 * session_ms / options_.publishing_interval_ms) + 1);
  SLUICE_ASSIGN_OR_RETURN(CreateSubscriptionResponse sub, client_->create_subscription(req));
  subscription_id_ = sub.subscription_id;
  last_sequence_ = 0;
  acks_.clear();
  uint64_t bad = 0;
  for (size_t first = 0; first < items_.size(); first += kItemsPerRequest) {
    std::vector<MonitoredItemCreateRequest> batch;
    const size_t end = std::min(items_.size(), first + kItemsPerRequest);
    for (size_t i = first; i < end; ++i) {
      MonitoredItemCreateRequest m;
      m.item_to_monitor.node_id = items_[i].node;
      m.requested_parameters.client_handle = static_cast<uint32_t>(i);
      m.requested_parameters.sampling_interval = items_[i].sampling_interval_ms;
      m.requested_parameters.queue_size = items_[i].queue_size;
      m.requested_parameters.discard_oldest = true;
      if (options_.deadband != DeadbandType::kNone) {
        DataChangeFilter f;
        f.trigger = DataChangeTrigger::kStatusValue;
        f.deadband_type = static_cast<uint32_t>(options_.deadband);
        f.deadband_value = options_.deadband_value;
        m.requested_parameters.filter = f;
      }
      batch.push_back(std::move(m));
    }
    SLUICE_ASSIGN_OR_RETURN(std::vector<MonitoredItemCreateResult> results,
                            client_->create_monitored_items(subscription_id_, batch));
    for (size_t k = 0; k < results.size(); ++k) {
      if (is_bad(results[k].status_code)) {
        ++bad;
        spdlog::warn("source '{}': cannot monitor {} ({}): {}", name(),
                     items_[first + k].node.to_string(), items_[first + k].series,
                     status_to_string(results[k].status_code));
      }
    }
  }
  bad_items_ = bad;
  spdlog::info("source '{}': subscription {} with {} monitored items ({} refused), {} ms", name(),
               subscription_id_, items_.size(), bad, sub.revised_publishing_interval);
  return Status::ok_status();
}

Status OpcuaSource::recover_subscription(bool kept_session) {
  if (subscription_id_ == 0) return create_subscription();
  if (kept_session) {
    ++sessions_kept_;
    return Status::ok_status();  // the server kept the session and its subscription
  }
  // A new session: take the old subscription over if the server still has it.
  Result<std::vector<TransferResult>> moved =
      client_->transfer_subscriptions({subscription_id_}, true);
  if (moved.ok() && !moved->empty() && is_good((*moved)[0].status_code)) {
    ++subscriptions_transferred_;
    spdlog::info("source '{}': subscription {} transferred to the new session", name(),
                 subscription_id_);
    return Status::ok_status();
  }
  ++subscriptions_recreated_;
  spdlog::info("source '{}': the server no longer has subscription {}; creating a new one", name(),
               subscription_id_);
  return create_subscription();
}

void OpcuaSource::mark_all_bad(runtime::SourceContext& ctx, Quality q) {
  if (items_.empty()) return;
  Batch b;
  const int64_t now = wall_ns(ctx);
  for (const Item& item : items_) b.samples.push_back(Sample{item.series, now, 0.0, q});
  (void)ctx.ingest(std::move(b));
}

Status OpcuaSource::deliver(runtime::SourceContext& ctx, const NotificationMessage& m) {
  Batch batch;
  const int64_t now = wall_ns(ctx);
  for (const NotificationData& data : m.notification_data) {
    if (const auto* dc = std::get_if<DataChangeNotification>(&data)) {
      for (const MonitoredItemNotification& n : dc->monitored_items) {
        if (n.client_handle >= items_.size()) continue;  // not ours (should not happen)
        batch.samples.push_back(to_sample(items_[n.client_handle].series, n.value, now));
      }
    } else if (const auto* sc = std::get_if<StatusChangeNotification>(&data)) {
      spdlog::warn("source '{}': subscription {} status {}", name(), subscription_id_,
                   status_to_string(sc->status));
      if (is_bad(sc->status)) subscription_id_ = 0;  // gone: recreate
    }
  }
  if (batch.samples.empty()) return Status::ok_status();
  const size_t n = batch.samples.size();
  Result<store::AppendResult> r = ctx.ingest(std::move(batch));
  if (!r.ok()) return r.status();
  samples_ += n;
  ++notifications_;
  return Status::ok_status();
}

Status OpcuaSource::handle_publish(runtime::SourceContext& ctx, PublishResponse& r) {
  if (r.subscription_id != subscription_id_) return Status::ok_status();  // an old one
  const NotificationMessage& m = r.notification_message;
  if (m.notification_data.empty()) return Status::ok_status();  // keep-alive
  // Messages missed (a lost response, a reconnect): ask for them again while the server keeps
  // them; what it no longer has is counted as lost.
  if (last_sequence_ != 0 && m.sequence_number > last_sequence_ + 1) {
    for (uint32_t seq = last_sequence_ + 1; seq < m.sequence_number; ++seq) {
      Result<NotificationMessage> again = client_->republish(subscription_id_, seq);
      if (again.ok()) {
        ++republished_;
        SLUICE_RETURN_IF_ERROR(deliver(ctx, *again));
        acks_.push_back({subscription_id_, seq});
      } else {
        ++lost_messages_;
      }
    }
  }
  if (m.sequence_number > last_sequence_ || last_sequence_ == 0) {
    SLUICE_RETURN_IF_ERROR(deliver(ctx, m));
    last_sequence_ = m.sequence_number;
  }
  acks_.push_back({subscription_id_, m.sequence_number});
  return Status::ok_status();
}

Status OpcuaSource::poll_once(runtime::SourceContext& ctx) {
  Batch batch;
  const int64_t now = wall_ns(ctx);
  for (size_t first = 0; first < items_.size(); first += kItemsPerRequest) {
    std::vector<ReadValueId> reads;
    const size_t end = std::min(items_.size(), first + kItemsPerRequest);
    for (size_t i = first; i < end; ++i)
      reads.push_back({items_[i].node, AttributeId::kValue, {}, {}});
    SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> values, client_->read(reads));
    for (size_t k = 0; k < values.size(); ++k) {
      batch.samples.push_back(to_sample(items_[first + k].series, values[k], now));
    }
  }
  const size_t n = batch.samples.size();
  Result<store::AppendResult> r = ctx.ingest(std::move(batch));
  if (!r.ok()) return r.status();
  samples_ += n;
  ++notifications_;
  return Status::ok_status();
}

Status OpcuaSource::run(runtime::SourceContext& ctx) {
  std::chrono::milliseconds backoff = options_.reconnect_min;
  bool ever_connected = false;
  bool marked_bad = false;
  auto lost = [&](const Status& why) {
    connected_ = false;
    {
      std::lock_guard lock(detail_mu_);
      last_error_ = why.message();
    }
    set_health(runtime::HealthState::kCritical,
               fmt::format("{}: {}; reconnecting", options_.client.endpoint_url, why.message()));
    if (!marked_bad) {
      mark_all_bad(ctx, quality::kBadNotConnected);
      marked_bad = true;
    }
    spdlog::warn("source '{}': {}; reconnecting in {} ms", name(), why.message(), backoff.count());
    ctx.sleep_until(ctx.clock().monotonic() +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(backoff).count());
    backoff = std::min(backoff * 2, options_.reconnect_max);
  };
  while (!ctx.stopping()) {
    if (!connected_) {
      Status s;
      bool kept = false;
      if (!ever_connected) {
        s = client_->connect();
        if (s.ok()) s = resolve_items();
        if (s.ok() && options_.subscribe) s = create_subscription();
      } else {
        ++reconnects_;
        s = client_->reconnect(&kept);
        if (s.ok() && options_.subscribe) s = recover_subscription(kept);
      }
      if (!s.ok()) {
        if (ctx.stopping()) break;
        if (s.code() == Code::kInvalidArgument || s.code() == Code::kFailedPrecondition) {
          // A configuration the server cannot serve: say so, and retry slowly (it may change).
          backoff = options_.reconnect_max;
        }
        lost(s);
        continue;
      }
      ever_connected = true;
      connected_ = true;
      marked_bad = false;
      backoff = options_.reconnect_min;
      const ConnectionInfo info = client_->info();
      set_health(bad_items_ > 0 ? runtime::HealthState::kWarning : runtime::HealthState::kHealthy,
                 bad_items_ > 0 ? fmt::format("{} of {} items refused by the server (see the log)",
                                              bad_items_.load(), items_.size())
                                : std::string());
      spdlog::info("source '{}': connected to {} ({}, certificate thumbprint {}), session {}{}",
                   name(), info.endpoint_url, info.server_application_uri,
                   info.server_thumbprint.empty() ? "none" : info.server_thumbprint,
                   info.session_id.to_string(), kept ? " (kept)" : "");
    }
    if (!options_.subscribe) {
      const int64_t next =
          ctx.clock().monotonic() +
          std::chrono::duration_cast<std::chrono::nanoseconds>(options_.poll_interval).count();
      Status s = poll_once(ctx);
      if (!s.ok()) {
        if (ctx.stopping()) break;
        lost(s);
        continue;
      }
      ctx.sleep_until(next);
      continue;
    }
    if (subscription_id_ == 0) {
      Status s = create_subscription();
      if (!s.ok()) {
        lost(s);
        continue;
      }
    }
    while (client_->publish_outstanding() < kPublishRequests) {
      client_->publish_async(std::move(acks_));
      acks_.clear();
    }
    // Keep-alives come every keep-alive count x publishing interval (at most ~5 s); three
    // missed in a row mean the connection is gone even if the socket says nothing.
    const auto wait = std::chrono::milliseconds(
        static_cast<int64_t>(std::max(15'000.0, 3 * options_.publishing_interval_ms)));
    Result<PublishResponse> r = client_->next_publish(wait);
    if (!r.ok()) {
      if (ctx.stopping()) break;
      const Code c = r.status().code();
      if (c == Code::kFailedPrecondition) {
        // BadNoSubscription / BadSubscriptionIdInvalid: the server dropped it.
        subscription_id_ = 0;
        continue;
      }
      if (c == Code::kInvalidArgument) continue;  // e.g. BadTooManyPublishRequests: fewer next
      lost(r.status());
      continue;
    }
    Status s = handle_publish(ctx, *r);
    if (!s.ok()) {
      if (ctx.stopping()) break;
      return s;  // the store refused: the runtime restarts the source
    }
  }
  return Status::ok_status();
}

// ---- Control ------------------------------------------------------------------------------

std::vector<runtime::ControlPoint> OpcuaSource::control_points() const {
  std::vector<runtime::ControlPoint> out;
  for (const OpcuaControlSpec& c : options_.control) {
    runtime::ControlPoint p;
    p.name = c.name;
    p.kind = runtime::ControlPoint::Kind::kSetPoint;
    std::optional<BuiltinType> t = builtin_type_from_name(c.type);
    {
      std::lock_guard lock(control_mu_);
      if (auto it = control_types_.find(c.name); it != control_types_.end()) t = it->second;
    }
    p.type = t ? value_type_of(*t) : ValueType::kDouble;
    p.description = fmt::format("Write {} ({})", c.node_id,
                                t ? builtin_type_name(*t) : std::string("its DataType"));
    out.push_back(std::move(p));
  }
  for (const OpcuaOperationSpec& o : options_.operations) {
    runtime::ControlPoint p;
    p.name = o.name;
    p.kind = runtime::ControlPoint::Kind::kOperation;
    p.description = fmt::format("Call {} on {}", o.method_id, o.object_id);
    out.push_back(std::move(p));
  }
  return out;
}

Result<BuiltinType> OpcuaSource::control_type(const OpcuaControlSpec& spec) {
  if (!spec.type.empty()) return *builtin_type_from_name(spec.type);
  {
    std::lock_guard lock(control_mu_);
    if (auto it = control_types_.find(spec.name); it != control_types_.end()) return it->second;
  }
  SLUICE_ASSIGN_OR_RETURN(NodeId node, parse_node_id(spec.node_id, client_->namespace_array()));
  SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> dt,
                          client_->read({{node, AttributeId::kDataType, {}, {}}}));
  const NodeId* type_id = dt[0].value.scalar<NodeId>();
  if (is_bad(dt[0].status) || type_id == nullptr) {
    return refused(dt[0].status, fmt::format("reading the DataType of {}", spec.node_id));
  }
  std::optional<BuiltinType> t = builtin_of_data_type(*type_id);
  if (!t) {
    return failed_precondition(fmt::format(
        "{} has DataType {}, which is not a built-in type: set type = \"...\" in its control entry",
        spec.node_id, type_id->to_string()));
  }
  std::lock_guard lock(control_mu_);
  control_types_[spec.name] = *t;
  return *t;
}

Status OpcuaSource::write(std::string_view point, const Value& value) {
  const auto spec = std::find_if(options_.control.begin(), options_.control.end(),
                                 [&](const OpcuaControlSpec& c) { return c.name == point; });
  if (spec == options_.control.end()) {
    return not_found(fmt::format("source '{}' has no set point '{}'", name(), point));
  }
  SLUICE_RETURN_IF_ERROR(client_ready());
  SLUICE_ASSIGN_OR_RETURN(BuiltinType type, control_type(*spec));
  SLUICE_ASSIGN_OR_RETURN(Variant v, from_value(value, type));
  SLUICE_ASSIGN_OR_RETURN(NodeId node, parse_node_id(spec->node_id, client_->namespace_array()));
  WriteValue wv;
  wv.node_id = node;
  wv.value.value = std::move(v);
  Result<std::vector<StatusCode>> r = client_->write({wv});
  if (!r.ok()) {
    ++write_errors_;
    return r.status();
  }
  if (!is_good((*r)[0])) {
    ++write_errors_;
    return refused((*r)[0], fmt::format("Write {}", spec->node_id));
  }
  ++writes_;
  return Status::ok_status();
}

Result<std::vector<Argument>> OpcuaSource::method_arguments(const OpcuaOperationSpec& spec) {
  {
    std::lock_guard lock(control_mu_);
    if (auto it = method_args_.find(spec.name); it != method_args_.end()) return it->second;
  }
  const std::vector<std::string> namespaces = client_->namespace_array();
  SLUICE_ASSIGN_OR_RETURN(NodeId method, parse_node_id(spec.method_id, namespaces));
  BrowseDescription d;
  d.node_id = method;
  d.reference_type_id = NodeId::make_numeric(0, ids::kHasProperty);
  SLUICE_ASSIGN_OR_RETURN(std::vector<ReferenceDescription> refs, client_->browse(d));
  std::vector<Argument> args;
  for (const ReferenceDescription& ref : refs) {
    if (ref.browse_name.name != "InputArguments") continue;
    SLUICE_ASSIGN_OR_RETURN(NodeId prop, resolve(ref.node_id, namespaces));
    SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> v,
                            client_->read({{prop, AttributeId::kValue, {}, {}}}));
    if (const auto* list = v[0].value.array<ExtensionObject>()) {
      for (const ExtensionObject& eo : *list) {
        SLUICE_ASSIGN_OR_RETURN(Argument a, decode_extension<Argument>(eo));
        args.push_back(std::move(a));
      }
    }
  }
  std::lock_guard lock(control_mu_);
  method_args_[spec.name] = args;
  return args;
}

Status OpcuaSource::operation(std::string_view op, const runtime::OperationParams& params) {
  const auto spec = std::find_if(options_.operations.begin(), options_.operations.end(),
                                 [&](const OpcuaOperationSpec& o) { return o.name == op; });
  if (spec == options_.operations.end()) {
    return not_found(fmt::format("source '{}' has no operation '{}'", name(), op));
  }
  SLUICE_RETURN_IF_ERROR(client_ready());
  SLUICE_ASSIGN_OR_RETURN(std::vector<Argument> args, method_arguments(*spec));
  const std::vector<std::string> namespaces = client_->namespace_array();
  CallMethodRequest call;
  SLUICE_ASSIGN_OR_RETURN(call.object_id, parse_node_id(spec->object_id, namespaces));
  SLUICE_ASSIGN_OR_RETURN(call.method_id, parse_node_id(spec->method_id, namespaces));
  std::vector<std::string> names;
  for (const Argument& a : args) names.push_back(a.name);
  for (const auto& [key, v] : params) {
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      return invalid_argument(
          fmt::format("operation '{}' has no parameter '{}' (its parameters: {})", op, key,
                      names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
  }
  for (const Argument& a : args) {
    const auto it = params.find(a.name);
    if (it == params.end()) {
      return invalid_argument(fmt::format("operation '{}' needs the parameter '{}'", op, a.name));
    }
    std::optional<BuiltinType> t = builtin_of_data_type(a.data_type);
    if (!t) {
      return failed_precondition(
          fmt::format("parameter '{}' of '{}' has DataType {}, which Sluice "
                      "cannot write",
                      a.name, op, a.data_type.to_string()));
    }
    Result<Variant> v = from_value(Value(it->second), *t);
    if (!v.ok()) return v.status().with_context("parameter '" + a.name + "'");
    call.input_arguments.push_back(std::move(v).value());
  }
  Result<std::vector<CallMethodResult>> r = client_->call({call});
  if (!r.ok()) return r.status();
  const CallMethodResult& result = (*r)[0];
  if (!is_good(result.status_code)) {
    return refused(result.status_code, fmt::format("Call {}", spec->method_id));
  }
  ++calls_;
  return Status::ok_status();
}

runtime::SinkDetails OpcuaSource::details() const {
  std::string error;
  {
    std::lock_guard lock(detail_mu_);
    error = last_error_;
  }
  return {
      {"connected", connected_ ? "true" : "false"},
      {"notifications", std::to_string(notifications_.load())},
      {"samples", std::to_string(samples_.load())},
      {"reconnects", std::to_string(reconnects_.load())},
      {"sessions_kept", std::to_string(sessions_kept_.load())},
      {"subscriptions_transferred", std::to_string(subscriptions_transferred_.load())},
      {"subscriptions_recreated", std::to_string(subscriptions_recreated_.load())},
      {"republished", std::to_string(republished_.load())},
      {"lost_messages", std::to_string(lost_messages_.load())},
      {"items_refused", std::to_string(bad_items_.load())},
      {"writes", std::to_string(writes_.load())},
      {"write_errors", std::to_string(write_errors_.load())},
      {"calls", std::to_string(calls_.load())},
      {"server_thumbprint", client_ ? client_->info().server_thumbprint : std::string()},
      {"last_error", error},
  };
}

}  // namespace sluice::sources
