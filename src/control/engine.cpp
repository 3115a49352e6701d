// The rules engine (see engine.h).
#include "control/engine.h"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <unordered_map>

#include "rules/substitution.h"

namespace sluice::control {
namespace {

using nlohmann::json;

constexpr size_t kDrainChunk = 8'192;

json value_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

// What a delivery has done, shared by the engine (status) and its jobs.
struct Counters {
  std::mutex mu;
  uint64_t sent = 0;
  uint64_t failed = 0;
  std::string last_error;
  int64_t last_sent_ns = 0;

  void record(const Status& s, int64_t now, std::string_view what) {
    std::lock_guard lock(mu);
    if (s.ok()) {
      ++sent;
      last_sent_ns = now;
    } else {
      ++failed;
      last_error = s.message();
      spdlog::warn("{}: {}", what, s.message());
    }
  }
};

}  // namespace

struct Engine::Delivery {
  DeliveryDef def;
  std::shared_ptr<WorkerPool::Strand> strand;
  Sender sender;             // webhook, mqtt
  std::string sender_error;  // why there is no sender
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
};

struct Engine::RuleRun {
  RuleDef def;
  std::string def_json;
  std::unique_ptr<rules::Rule> rule;
  std::vector<NotificationRun*> notifications;  // the enabled ones that run on it
};

struct Engine::NotificationRun {
  NotificationDef def;
  std::string def_json;
  std::string rule_error;
  RuleRun* rule = nullptr;
  std::unique_ptr<rules::Notification> notification;
  std::vector<std::unique_ptr<Delivery>> deliveries;
};

struct Engine::Model {
  std::vector<std::unique_ptr<RuleRun>> rules;
  std::vector<std::unique_ptr<NotificationRun>> notifications;
  std::unordered_map<std::string, std::vector<RuleRun*>> by_series;
};

Engine::Engine(runtime::LiveTap& tap, runtime::ControlRouter* router, Clock& clock,
               SenderFactory senders, EngineOptions options)
    : tap_(tap),
      router_(router),
      clock_(clock),
      senders_(std::move(senders)),
      options_(options),
      model_(std::make_unique<Model>()),
      control_pool_(std::make_unique<WorkerPool>(options.control_threads, "sluice-ctl-dlv")),
      outbound_pool_(std::make_unique<WorkerPool>(options.outbound_threads, "sluice-out-dlv")) {}

Engine::~Engine() { stop(); }

Status Engine::set_definitions(const std::vector<RuleDef>& rule_defs,
                               const std::vector<NotificationDef>& notification_defs) {
  auto next = std::make_unique<Model>();
  std::lock_guard lock(mu_);
  Model& old = *model_;
  std::unordered_map<std::string, RuleRun*> old_rules;
  for (auto& r : old.rules) old_rules.emplace(r->def.name, r.get());
  std::unordered_map<std::string, NotificationRun*> old_notifications;
  for (auto& n : old.notifications) old_notifications.emplace(n->def.name, n.get());

  // Build first (nothing changes on an error), then take over what did not change.
  std::unordered_map<std::string, RuleRun*> rules_by_name;
  std::vector<bool> rule_kept;
  for (const RuleDef& def : rule_defs) {
    auto run = std::make_unique<RuleRun>();
    run->def = def;
    run->def_json = to_json(def).dump();
    auto it = old_rules.find(def.name);
    const bool keep = it != old_rules.end() && it->second->def_json == run->def_json;
    if (!keep) {
      Result<std::unique_ptr<rules::Rule>> rule = make_rule(def);
      if (!rule.ok()) {
        return invalid_argument(
            fmt::format("rule '{}': {}", def.name, rule.status().message()));
      }
      run->rule = std::move(*rule);
    }
    rule_kept.push_back(keep);
    if (!rules_by_name.emplace(def.name, run.get()).second) {
      return invalid_argument(fmt::format("two rules are named '{}'", def.name));
    }
    next->rules.push_back(std::move(run));
  }
  std::vector<bool> notification_kept;
  for (const NotificationDef& def : notification_defs) {
    auto run = std::make_unique<NotificationRun>();
    run->def = def;
    run->def_json = to_json(def).dump();
    auto rule = rules_by_name.find(def.rule);
    if (rule == rules_by_name.end()) {
      run->rule_error = fmt::format("no rule named '{}'", def.rule);
    } else {
      run->rule = rule->second;
    }
    auto it = old_notifications.find(def.name);
    const size_t rule_index =
        run->rule == nullptr
            ? 0
            : static_cast<size_t>(std::find_if(next->rules.begin(), next->rules.end(),
                                               [&](const auto& r) { return r.get() == run->rule; }) -
                                  next->rules.begin());
    const bool keep = it != old_notifications.end() && it->second->def_json == run->def_json &&
                      run->rule != nullptr && rule_kept[rule_index];
    if (!keep) {
      run->notification =
          std::make_unique<rules::Notification>(def.type, def.retrigger.count());
      for (const DeliveryDef& d : def.deliveries) {
        auto delivery = std::make_unique<Delivery>();
        delivery->def = d;
        delivery->strand = std::make_shared<WorkerPool::Strand>(options_.delivery_queue);
        if (d.type == DeliveryDef::Type::kWebhook || d.type == DeliveryDef::Type::kMqtt) {
          if (!senders_) {
            delivery->sender_error = "this Sluice cannot send webhooks or MQTT messages";
          } else if (Result<Sender> s = senders_(d); s.ok()) {
            delivery->sender = std::move(*s);
          } else {
            return invalid_argument(fmt::format("notification '{}': {}: {}", def.name,
                                                describe(d), s.status().message()));
          }
        }
        run->deliveries.push_back(std::move(delivery));
      }
    }
    notification_kept.push_back(keep);
    next->notifications.push_back(std::move(run));
  }
  // Take over the state of what did not change.
  for (size_t i = 0; i < next->rules.size(); ++i) {
    if (rule_kept[i]) next->rules[i]->rule = std::move(old_rules.at(next->rules[i]->def.name)->rule);
  }
  for (size_t i = 0; i < next->notifications.size(); ++i) {
    if (!notification_kept[i]) continue;
    NotificationRun& n = *next->notifications[i];
    NotificationRun& was = *old_notifications.at(n.def.name);
    n.notification = std::move(was.notification);
    n.deliveries = std::move(was.deliveries);
  }
  for (auto& n : next->notifications) {
    if (n->rule != nullptr && n->def.enabled) n->rule->notifications.push_back(n.get());
  }
  for (auto& r : next->rules) {
    if (r->notifications.empty()) continue;  // nobody listens: not evaluated
    for (const std::string& s : r->rule->series()) next->by_series[s].push_back(r.get());
  }
  model_ = std::move(next);
  return Status::ok_status();
}

void Engine::start() {
  if (running_.exchange(true)) return;
  stopping_ = false;
  subscription_ = tap_.subscribe(runtime::LiveFilter::every_series(/*at_ingest=*/true),
                                 options_.live_capacity);
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  pthread_setname_np(thread_.native_handle(), "sluice-rules");
}

void Engine::stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) {
    thread_.request_stop();
    if (subscription_) subscription_->interrupt();
    thread_.join();
  }
  control_pool_->stop();
  outbound_pool_->stop();
  subscription_.reset();
  running_ = false;
}

void Engine::run(const std::stop_token& stop) {
  std::vector<runtime::LiveSample> batch;
  batch.reserve(kDrainChunk);
  const int64_t tick_ns = std::chrono::nanoseconds(options_.tick).count();
  int64_t next_tick = clock_.monotonic() + tick_ns;
  while (!stop.stop_requested()) {
    const int64_t wait = std::max<int64_t>(next_tick - clock_.monotonic(), 0);
    subscription_->wait_for(std::chrono::nanoseconds(wait));
    batch.clear();
    subscription_->drain(batch, kDrainChunk);
    std::lock_guard lock(mu_);
    if (!batch.empty()) process_locked(batch);
    if (clock_.monotonic() >= next_tick) {
      tick_locked(clock_.now());
      next_tick = clock_.monotonic() + tick_ns;
    }
  }
}

void Engine::process(const std::vector<runtime::LiveSample>& samples) {
  std::lock_guard lock(mu_);
  process_locked(samples);
}

void Engine::tick(int64_t now) {
  std::lock_guard lock(mu_);
  tick_locked(now);
}

void Engine::process_locked(const std::vector<runtime::LiveSample>& samples) {
  Model& m = *model_;
  samples_ += samples.size();
  if (m.by_series.empty()) return;
  for (const runtime::LiveSample& ls : samples) {
    auto it = m.by_series.find(ls.sample.series);
    if (it == m.by_series.end()) continue;
    for (RuleRun* r : it->second) {
      std::optional<rules::Evaluation> e = r->rule->observe(ls.sample);
      if (!e) continue;
      ++evaluations_;
      for (NotificationRun* n : r->notifications) {
        const rules::Send send = n->notification->evaluate(*e);
        if (send != rules::Send::kNone) on_send(*n, send, e->ts);
      }
    }
  }
}

void Engine::tick_locked(int64_t now) {
  Model& m = *model_;
  for (auto& r : m.rules) {
    if (r->notifications.empty()) continue;
    std::optional<rules::Evaluation> e = r->rule->tick(now);
    if (!e) continue;
    ++evaluations_;
    for (NotificationRun* n : r->notifications) {
      const rules::Send send = n->notification->evaluate(*e);
      if (send != rules::Send::kNone) on_send(*n, send, e->ts);
    }
  }
  for (auto& n : m.notifications) {
    if (n->rule == nullptr || !n->def.enabled) continue;
    const rules::Send send = n->notification->tick(now);
    if (send != rules::Send::kNone) on_send(*n, send, now);
  }
}

void Engine::on_send(NotificationRun& n, rules::Send send, int64_t ts) {
  ++sends_;
  const std::vector<rules::NamedValue>& values = n.notification->state().last_values;
  history_.push_front(HistoryEntry{clock_.now(), ts, n.def.name, n.def.rule, send, values});
  while (history_.size() > options_.history) history_.pop_back();
  // The values deliveries substitute: the rule's, and the send's own.
  std::vector<rules::NamedValue> all = values;
  all.push_back({"notification", n.def.name});
  all.push_back({"rule", n.def.rule});
  all.push_back({"state", std::string(rules::send_name(send))});
  all.push_back({"time", iso8601_ms(ts)});
  for (auto& d : n.deliveries) {
    const bool wanted = send == rules::Send::kTriggered ? d->def.on_triggered : d->def.on_cleared;
    if (wanted) deliver(n, *d, send, all);
  }
}

namespace {

// The JSON document webhook and MQTT deliveries send unless they have a template.
std::string default_document(const std::vector<rules::NamedValue>& all, size_t own) {
  json values = json::object();
  for (size_t i = 0; i < own; ++i) values[all[i].series] = value_json(all[i].value);
  json doc = {{"notification", value_json(all[own].value)},
              {"rule", value_json(all[own + 1].value)},
              {"state", value_json(all[own + 2].value)},
              {"time", value_json(all[own + 3].value)},
              {"values", std::move(values)}};
  return doc.dump();
}

std::vector<std::pair<std::string, Value>> substituted_values(
    const std::vector<std::pair<std::string, Value>>& templates,
    const std::vector<rules::NamedValue>& all) {
  std::vector<std::pair<std::string, Value>> out;
  out.reserve(templates.size());
  for (const auto& [name, v] : templates) {
    if (const auto* text = std::get_if<std::string>(&v)) {
      out.emplace_back(name, to_value(rules::substitute(*text, all)));
    } else {
      out.emplace_back(name, v);
    }
  }
  return out;
}

runtime::OperationParams substituted_params(
    const std::vector<std::pair<std::string, std::string>>& templates,
    const std::vector<rules::NamedValue>& all) {
  runtime::OperationParams out;
  for (const auto& [name, text] : templates) out[name] = rules::substitute(text, all);
  return out;
}

}  // namespace

void Engine::deliver(NotificationRun& n, Delivery& d, rules::Send send,
                     const std::vector<rules::NamedValue>& all) {
  const size_t own = all.size() - 4;  // the rule's values come first
  const bool cleared = send == rules::Send::kCleared;
  const std::string what = fmt::format("notification '{}': {}", n.def.name, describe(d.def));
  std::shared_ptr<Counters> counters = d.counters;
  switch (d.def.type) {
    case DeliveryDef::Type::kLog: {
      std::string line;
      if (d.def.text.empty()) {
        line = fmt::format("notification '{}' {}: rule '{}'", n.def.name, rules::send_name(send),
                           n.def.rule);
        for (size_t i = 0; i < own; ++i) {
          line += fmt::format(" {}={}", all[i].series, rules::format_value(all[i].value));
        }
      } else {
        line = rules::substitute(d.def.text, all);
      }
      const spdlog::level::level_enum level = d.def.level == "info"    ? spdlog::level::info
                                              : d.def.level == "error" ? spdlog::level::err
                                                                       : spdlog::level::warn;
      spdlog::log(level, "{}", line);
      counters->record(Status::ok_status(), clock_.now(), what);
      return;
    }
    case DeliveryDef::Type::kWebhook:
    case DeliveryDef::Type::kMqtt: {
      if (!d.sender) {
        counters->record(Status(Code::kUnavailable, d.sender_error), clock_.now(), what);
        return;
      }
      const std::string& tmpl = d.def.type == DeliveryDef::Type::kWebhook ? d.def.body
                                                                           : d.def.payload;
      std::string text = tmpl.empty() ? default_document(all, own) : rules::substitute(tmpl, all);
      Sender sender = d.sender;
      const bool posted = outbound_pool_->post(
          d.strand, [this, sender, counters, what, text = std::move(text)] {
            const Status s = sender(text, [this] { return stopping_.load(); });
            counters->record(s, clock_.now(), what);
          });
      if (!posted) {
        counters->record(Status(Code::kResourceExhausted,
                                "its queue is full; the send was dropped"),
                         clock_.now(), what);
      }
      return;
    }
    case DeliveryDef::Type::kSetPoint:
    case DeliveryDef::Type::kOperation:
    case DeliveryDef::Type::kScript: {
      runtime::ControlRequest request;
      request.target = d.def.target;
      if (d.def.type == DeliveryDef::Type::kSetPoint) {
        request.action = runtime::ControlRequest::Action::kWrite;
        request.values =
            substituted_values(cleared ? d.def.cleared_values : d.def.trigger_values, all);
      } else if (d.def.type == DeliveryDef::Type::kOperation) {
        request.action = runtime::ControlRequest::Action::kOperation;
        request.operation = cleared ? d.def.cleared_operation : d.def.operation;
        request.params = substituted_params(cleared ? d.def.cleared_params : d.def.params, all);
      } else {
        request.action = runtime::ControlRequest::Action::kScript;
        request.script = cleared ? d.def.cleared_script : d.def.script;
        request.params = substituted_params(d.def.params, all);
        request.params.emplace("notification", n.def.name);
        request.params.emplace("state", rules::send_name(send));
      }
      if (router_ == nullptr) {
        counters->record(Status(Code::kUnavailable, "no control dispatcher runs here"),
                         clock_.now(), what);
        return;
      }
      runtime::Caller caller = runtime::Caller::service(n.def.name, "notification");
      const bool posted = control_pool_->post(
          d.strand, [this, counters, what, request = std::move(request),
                     caller = std::move(caller)] {
            Result<runtime::ControlOutcome> r = router_->dispatch(request, caller);
            counters->record(r.ok() ? Status::ok_status() : r.status(), clock_.now(), what);
          });
      if (!posted) {
        counters->record(Status(Code::kResourceExhausted,
                                "its queue is full; the request was dropped"),
                         clock_.now(), what);
      }
      return;
    }
  }
}

std::vector<NotificationStatus> Engine::notifications() const {
  std::lock_guard lock(mu_);
  std::vector<NotificationStatus> out;
  for (const auto& n : model_->notifications) {
    NotificationStatus s;
    s.def = n->def;
    s.rule_error = n->rule_error;
    s.state = n->notification->state();
    if (n->rule != nullptr) s.rule_counters = n->rule->rule->counters();
    for (const auto& d : n->deliveries) {
      DeliveryStatus ds;
      ds.type = delivery_type_name(d->def.type);
      ds.summary = describe(d->def);
      ds.dropped = d->strand->refused();
      std::lock_guard clock(d->counters->mu);
      ds.sent = d->counters->sent;
      ds.failed = d->counters->failed;
      ds.last_error = d->counters->last_error;
      ds.last_sent_ns = d->counters->last_sent_ns;
      s.deliveries.push_back(std::move(ds));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<HistoryEntry> Engine::history(size_t limit, std::string_view name) const {
  std::lock_guard lock(mu_);
  std::vector<HistoryEntry> out;
  for (const HistoryEntry& h : history_) {
    if (out.size() >= limit) break;
    if (!name.empty() && h.notification != name) continue;
    out.push_back(h);
  }
  return out;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mu_);
  EngineStats s;
  s.samples = samples_;
  s.evaluations = evaluations_;
  s.sends = sends_;
  s.dropped = subscription_ ? subscription_->dropped() : 0;
  s.rules = model_->rules.size();
  s.notifications = model_->notifications.size();
  s.running = running_.load() && !stopping_.load();
  return s;
}

}  // namespace sluice::control
