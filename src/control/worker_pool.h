// A few threads that run jobs posted to strands: a strand's jobs run one at a time and in the
// order they were posted (a toggled notification's "triggered" write must reach the device
// before its "cleared" write), while different strands run in parallel. Each strand's queue is
// bounded; a job posted to a full strand is refused and counted, never blocking the poster (the
// rules engine's thread).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::control {

class WorkerPool {
 public:
  class Strand {
   public:
    explicit Strand(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
    // Jobs refused because the strand's queue was full.
    uint64_t refused() const;
    size_t queued() const;

   private:
    friend class WorkerPool;
    mutable std::mutex mu_;
    std::deque<std::function<void()>> jobs_;  // guarded by mu_
    bool scheduled_ = false;  // in the pool's ready queue or running; guarded by mu_
    uint64_t refused_ = 0;    // guarded by mu_
    const size_t capacity_;
  };

  WorkerPool(size_t threads, std::string name);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues the job on the strand; false if the strand is full or the pool stopped.
  bool post(const std::shared_ptr<Strand>& strand, std::function<void()> job);
  // Runs the jobs already running to their end, drops the queued ones, joins the threads.
  void stop();

 private:
  void run();

  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Strand>> ready_;  // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace sluice::control
