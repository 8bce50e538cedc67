#pragma once
// Blocking work off the I/O threads: a small pool of worker threads and `offload`, which runs a
// handler's slow part (a database call, a file conversion, a CPU-heavy computation) on a worker and
// answers on the connection's own I/O thread when it is done.
//
//   tether::worker_pool pool{4};
//   app.get("/report/:id", [&pool](auto& req, auto& res) {
//       pool.offload(res, [id = std::string(req.param("id"))](tether::http::deferred_response& reply) {
//           reply.json(slow_query(id));                // on a worker; sent when this returns
//       });
//   });
//
// Budgets: the queue is bounded (max_queued); past it the request is answered 503 at once instead of
// waiting behind work that may never catch up. A job that throws is answered 500. The pool finishes
// queued work and joins its threads when destroyed: destroy it after the server has stopped and
// before the server itself (a reply posts to its connection's I/O thread).
//
// Why a pool and not a thread per request: threads are the most expensive thing a request can
// make a server hold, and a burst of slow requests would create a burst of threads.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <tether/http/deferred_response.hpp>
#include <tether/http/error.hpp>

namespace tether {

class worker_pool {
public:
    explicit worker_pool(unsigned threads, std::size_t max_queued = 1024) : max_queued_(max_queued) {
        if (threads == 0) throw std::invalid_argument("tether::worker_pool: at least one thread");
        for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;
    ~worker_pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
        for (auto& t : workers_) t.join();
    }

    // Queues `job`; false when the queue is full or the pool is stopping. Any thread.
    bool post(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_ || queue_.size() >= max_queued_) return false;
            queue_.push_back(std::move(job));
        }
        ready_.notify_one();
        return true;
    }

    // Defers `res` and runs `job(reply)` on a worker; the reply is sent when the job returns (unless
    // the job sent it already). Full queue: 503 now. A throwing job: 500.
    template <class Job>
    void offload(http::response& res, Job&& job) {
        auto reply = std::make_shared<http::deferred_response>(res.defer());
        bool queued = post([reply, job = std::forward<Job>(job)]() mutable {
            try {
                job(*reply);
                if (*reply) reply->send();
            } catch (...) {
                if (*reply) reply->fail(500, "internal server error");
            }
        });
        if (!queued) reply->fail(503, "server busy: too much work queued");
    }

    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }

private:
    void work() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;   // stopping, and nothing left to finish
                job = std::move(queue_.front());
                queue_.pop_front();
            }
            job();
        }
    }

    const std::size_t max_queued_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

} // namespace tether
