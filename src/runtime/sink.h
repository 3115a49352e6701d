// The sink model every north service is built on. A Sink delivers samples it reads through its
// SinkContext, which is the runtime's side of the contract: the sink's cursors on the streams of
// the sources it takes data from, in the store. Reading moves a read position; commit() moves
// the durable cursors to it, and only then may the store delete what was delivered. So a sink
// commits only after its destination confirmed (a file durable in its directory, a 2xx answer,
// an ack), and a crash or an outage resends rather than skips (at-least-once; exactly-once where
// the destination deduplicates).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/sample.h"
#include "core/status.h"
#include "runtime/service.h"

namespace sluice::runtime {

// Samples of one stream: sequences first_seq .. first_seq + batch.size() - 1.
struct SinkItem {
  std::string stream;
  uint64_t first_seq = 0;
  Batch batch;
};

// The runtime's side of a running sink. Used by the sink's own thread only, except wake().
class SinkContext {
 public:
  virtual ~SinkContext() = default;

  // Reads up to max_samples samples the sink has not read yet (since it started or since the
  // last rewind), taking the streams in turn; only durable data is ever read. Returns false
  // when nothing is readable now.
  virtual Result<bool> read(size_t max_samples, SinkItem* out) = 0;
  // Everything read() returned so far has been delivered: the cursors move past it, durably.
  virtual Status commit() = 0;
  // The delivery failed: the next read() starts again at the cursors.
  virtual void rewind() = 0;
  // Samples readable now but not yet committed, over the sink's streams (its lag).
  virtual uint64_t backlog() const = 0;

  // What is known about a series (unit, labels...), from the state database; nullopt if
  // nothing is.
  virtual std::optional<SeriesMeta> series(std::string_view name) const {
    (void)name;
    return std::nullopt;
  }

  virtual Clock& clock() = 0;
  virtual bool stopping() const = 0;
  // Waits until clock().monotonic() >= monotonic_ns, a stop, or wake(); false if stopping.
  virtual bool sleep_until(int64_t monotonic_ns) = 0;
  // Ends the current sleep_until early (an operator's "deliver now"). Any thread.
  virtual void wake() = 0;
};

// One line of a sink's detail page (the data platforms' connector page: "files pending 1,
// uploaded 42, last error ..."): a stable snake_case name and its value as text. Counters are
// decimal integers, times ISO-8601 UTC, and an empty value means "none yet". The runtime copies
// them into SinkStatus so that the status line and the REST API show any sink's details without
// knowing its type.
struct SinkDetail {
  std::string name;
  std::string value;

  bool operator==(const SinkDetail&) const = default;
};
using SinkDetails = std::vector<SinkDetail>;

// A north service. Created from its config by its SinkType (runtime/source_types.h) and run by
// the Runtime on a thread of its own.
class Sink : public Service {
 public:
  using Service::Service;

  // Runs until ctx.stopping(), then returns ok (after delivering what it can, or leaving it for
  // the next start: it is still in the store); or returns why it cannot go on, which the
  // runtime logs, shows as CRITICAL and answers by starting a new instance after a back-off.
  virtual Status start(SinkContext& ctx) = 0;

  // The sink's own counters and last events, in the order a person should read them. Called from
  // any thread, while start() runs or not; must not block on delivery. Default: none.
  virtual SinkDetails details() const { return {}; }

  // An operator's "deliver now" (the files sink's manual upload). Default: not supported.
  virtual Status trigger() {
    return failed_precondition("sink '" + name() + "' (type " + std::string(type()) +
                               ") has no manual delivery");
  }
};

}  // namespace sluice::runtime
