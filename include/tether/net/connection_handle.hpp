#pragma once
// Reaching a connection from another thread. A connection lives on one I/O thread and may be
// gone by the time another thread acts on it, so other threads hold an anchor instead of a
// pointer: a small shared block whose `connection` pointer is read and cleared only on the
// owning thread, plus an atomic "alive" flag other threads may test to skip useless posts.
// A call through the handle is posted to the owning thread and does nothing if the connection
// has closed by then. The anchor is allocated only for connections that hand out a handle.
#include <atomic>
#include <memory>
#include <utility>

namespace tether::net {

class io_thread;

template <class Connection>
struct connection_anchor {
    connection_anchor(Connection* c, io_thread* owner) noexcept : connection(c), thread(owner) {}
    Connection* connection;   // touched only on the owning thread
    io_thread* thread;
    std::atomic<bool> alive{true};

    // On the owning thread, when the connection closes.
    void release() noexcept {
        alive.store(false, std::memory_order_release);
        connection = nullptr;
    }
};

template <class Connection>
class connection_handle_base {
public:
    bool alive() const noexcept { return anchor_ && anchor_->alive.load(std::memory_order_acquire); }

protected:
    connection_handle_base() = default;
    explicit connection_handle_base(std::shared_ptr<connection_anchor<Connection>> a) : anchor_(std::move(a)) {}

    // Runs f(connection&) on the owning thread if the connection is still open there.
    // Returns false when it is already known to be gone.
    template <class F>
    bool post(F&& f) const {
        if (!alive()) return false;
        anchor_->thread->post([a = anchor_, f = std::forward<F>(f)]() mutable {
            if (a->connection) f(*a->connection);
        });
        return true;
    }

private:
    std::shared_ptr<connection_anchor<Connection>> anchor_;
};

} // namespace tether::net
