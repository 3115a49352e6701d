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
  // The same as commit_to(mark()).
  virtual Status commit() = 0;
  // The delivery failed: the next read() starts again at the cursors. Every mark taken before
  // is void (commit_to ignores it).
  virtual void rewind() = 0;

  // Where the reads have got to, for a sink that delivers in pieces while it reads on (the
  // forward link's window): it takes a mark after reading what a piece holds, and once the
  // destination confirmed the piece, commits up to that mark. Opaque to the sink: per stream,
  // in the context's order, the reader's position and the samples read up to it.
  struct ReadMark {
    struct Stream {
      uint64_t position = 0;    // the next sequence to read
      uint64_t read = 0;        // samples read since the readers were last placed at the cursors
      uint64_t read_epoch = 0;  // which placement (a rewind or a restart begins a new one)
      uint64_t seek_epoch = 0;  // which reader position (a purge moves the reader on)
    };
    std::vector<Stream> streams;
  };
  // The positions after everything read() returned so far.
  virtual ReadMark mark() const = 0;
  // Everything read() returned up to `mark` has been delivered: the cursors move to the mark's
  // positions, durably (one fsync per stream moved). Never moves a cursor backwards (an older
  // mark than the last one committed is a no-op), leaves alone a stream purged since the mark
  // (its cursor is ahead already) and ignores a mark taken before a rewind.
  virtual Status commit_to(const ReadMark& mark) = 0;
  // Samples readable now but not yet committed, over the sink's streams (its lag).
  virtual uint64_t backlog() const = 0;

  // What is known about a series (unit, labels...), from the state database; nullopt if
  // nothing is.
  virtual std::optional<SeriesMeta> series(std::string_view name) const {
    (void)name;
    return std::nullopt;
  }

  // The streams the sink takes data from (it may grow while it runs: a new forwarded session),
  // with each stream's meta JSON and creation time, in the sink's read order.
  struct StreamInfo {
    std::string stream;
    std::string meta_json;
    int64_t created_ns = 0;
    uint64_t backlog = 0;  // readable, not yet committed
  };
  virtual std::vector<StreamInfo> streams() const { return {}; }
  // Holds a stream back: read() skips it until released (the forward link's "hold": a later
  // session of a source waits until the earlier one is delivered). Unlike an operator's pause it
  // is not kept anywhere; a new sink instance starts with nothing held.
  virtual void set_held(std::string_view stream, bool held) {
    (void)stream;
    (void)held;
  }
  // Who this Sluice is (see InstanceInfo).
  virtual const InstanceInfo& instance_info() const {
    static const InstanceInfo none;
    return none;
  }

  virtual Clock& clock() = 0;
  virtual bool stopping() const = 0;
  // Waits until clock().monotonic() >= monotonic_ns, a stop, or wake(); false if stopping.
  virtual bool sleep_until(int64_t monotonic_ns) = 0;
  // Ends the current sleep_until early (an operator's "deliver now"). Any thread.
  virtual void wake() = 0;
};

// A north service. Created from its config by its SinkType (runtime/source_types.h) and run by
// the Runtime on a thread of its own.
class Sink : public Service {
 public:
  using Service::Service;

  // Runs until ctx.stopping(), then returns ok (after delivering what it can, or leaving it for
  // the next start: it is still in the store); or returns why it cannot go on, which the
  // runtime logs, shows as CRITICAL and answers by starting a new instance after a back-off.
  virtual Status start(SinkContext& ctx) = 0;

  // The output state of the session on `stream` as the sink sees it, for the status screen:
  // "closed" (no connection), "hold" (waiting for an earlier session), "throttled" (the
  // destination answers with an error; the sink backs off), "open", with a reason; nullopt
  // (the default) lets the runtime judge from the sink's mode and health. Any thread.
  struct OutputState {
    std::string state;
    std::string reason;
  };
  virtual std::optional<OutputState> output_state(std::string_view stream) const {
    (void)stream;
    return std::nullopt;
  }

  // An operator's "deliver now" (the files sink's manual upload). Default: not supported.
  virtual Status trigger() {
    return failed_precondition("sink '" + name() + "' (type " + std::string(type()) +
                               ") has no manual delivery");
  }
};

}  // namespace sluice::runtime
