// The strands' thread pool (see worker_pool.h).
#include "control/worker_pool.h"

#include <pthread.h>

namespace sluice::control {

uint64_t WorkerPool::Strand::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

size_t WorkerPool::Strand::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

WorkerPool::WorkerPool(size_t threads, std::string name) : name_(std::move(name)) {
  if (threads < 1) threads = 1;
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { run(); });
    pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
  }
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::post(const std::shared_ptr<Strand>& strand, std::function<void()> job) {
  bool schedule = false;
  {
    std::lock_guard lock(strand->mu_);
    if (strand->jobs_.size() >= strand->capacity_) {
      ++strand->refused_;
      return false;
    }
    strand->jobs_.push_back(std::move(job));
    if (!strand->scheduled_) {
      strand->scheduled_ = true;
      schedule = true;
    }
  }
  if (schedule) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      ready_.push_back(strand);
    }
    cv_.notify_one();
  }
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    ready_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::run() {
  for (;;) {
    std::shared_ptr<Strand> strand;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      strand = std::move(ready_.front());
      ready_.pop_front();
    }
    std::function<void()> job;
    {
      std::lock_guard lock(strand->mu_);
      job = std::move(strand->jobs_.front());
      strand->jobs_.pop_front();
    }
    job();
    bool again = false;
    {
      std::lock_guard lock(strand->mu_);
      if (strand->jobs_.empty()) {
        strand->scheduled_ = false;
      } else {
        again = true;
      }
    }
    if (again) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        ready_.push_back(std::move(strand));
      }
      cv_.notify_one();
    }
  }
}

}  // namespace sluice::control
