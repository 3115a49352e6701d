// Edge control wired to a runtime (see control_plane.h).
#include "control/control_plane.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/webhook.h"
#include "protocols/mqtt/publisher.h"

namespace sluice::control {
namespace {

// The real senders: a webhook (HTTP POST with retries) or an MQTT publisher per delivery.
Result<Sender> real_sender(const DeliveryDef& d) {
  if (d.type == DeliveryDef::Type::kWebhook) {
    WebhookOptions o;
    o.url = d.url;
    for (const auto& [k, v] : d.headers) o.headers[k] = v;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(d.timeout);
    o.retries = d.retries;
    if (std::string wrong = check_webhook_options(o); !wrong.empty()) {
      return invalid_argument(wrong);
    }
    auto hook = std::make_shared<Webhook>(std::move(o));
    return Sender([hook, type = d.content_type](const std::string& text,
                                                const std::function<bool()>& cancelled) {
      return hook->post(text, type, cancelled);
    });
  }
  if (d.type == DeliveryDef::Type::kMqtt) {
    mqtt::PublisherOptions o;
    o.host = d.host;
    o.port = d.port;
    o.client_id = d.client_id;
    if (!d.username.empty()) o.username = d.username;
    if (!d.password.empty()) o.password = d.password;
    auto publisher = std::make_shared<mqtt::Publisher>(std::move(o));
    return Sender([publisher, topic = d.topic, qos = d.qos, retain = d.retain](
                      const std::string& text, const std::function<bool()>&) {
      return publisher->publish(topic, text, qos, retain, std::chrono::seconds(10));
    });
  }
  return invalid_argument(fmt::format("a {} delivery sends nothing itself",
                                      delivery_type_name(d.type)));
}

}  // namespace

Result<std::unique_ptr<ControlPlane>> ControlPlane::open(runtime::Runtime& runtime,
                                                         const runtime::Config& config,
                                                         ControlPlaneOptions options) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane(runtime));
  Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::instance();
  // The [control] table's threads and queues (the options' own values are the defaults).
  options.dispatcher.threads = config.control.dispatcher_threads;
  options.dispatcher.queue_capacity = config.control.dispatcher_queue;
  options.engine.control_threads = config.control.delivery_threads;
  options.engine.delivery_queue = config.control.delivery_queue;
  plane->dispatcher_ = std::make_unique<Dispatcher>(runtime, options.dispatcher);
  plane->engine_ = std::make_unique<Engine>(runtime.live_tap(), plane->dispatcher_.get(), clock,
                                            options.senders ? options.senders : real_sender,
                                            options.engine);
  ControlPlane* p = plane.get();
  Result<std::unique_ptr<Documents>> documents =
      Documents::open(runtime.series().db(), config.documents, clock,
                      [p](const Snapshot& s) { return p->apply(s); });
  if (!documents.ok()) {
    return Status(documents.status().code(),
                  "edge control (rules, notifications, scripts, ACLs): " +
                      documents.status().message());
  }
  plane->documents_ = std::move(documents).value();
  runtime.set_control_router(plane->dispatcher_.get());
  return plane;
}

Status ControlPlane::apply(const Snapshot& s) {
  // The dispatcher checks scripts and ACLs; the engine builds rules and notifications. If the
  // second refuses, the first goes back to the set that ran before.
  SLUICE_RETURN_IF_ERROR(dispatcher_->set_definitions(s.scripts, s.acls));
  const Status engine = engine_->set_definitions(s.rules, s.notifications);
  if (!engine.ok()) {
    if (applied_) (void)dispatcher_->set_definitions(applied_->scripts, applied_->acls);
    return engine;
  }
  applied_ = std::make_unique<Snapshot>(s);
  return Status::ok_status();
}

ControlPlane::~ControlPlane() { stop(); }

void ControlPlane::start() { engine_->start(); }

void ControlPlane::stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_->stop();
  runtime_.set_control_router(nullptr);
  dispatcher_->stop();
}

}  // namespace sluice::control
