#pragma once
// A move-only `void()` callable for an I/O thread's queue of posted work (net/epoll_reactor.hpp).
//
// Why not std::function: what is posted owns things (an accepted descriptor, an admission
// ticket, a reference-counted drain target), so it is move-only, which std::function cannot hold
// (C++20 has no std::move_only_function). Callables of up to 48 bytes, which is every one tether
// posts on a hot path (a hub drain request is one pointer, a connection's wake one pointer), live
// inline: posting them allocates nothing beyond the queue's own, reused, capacity.
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tether::net {

class posted_task {
public:
    static constexpr std::size_t inline_size = 48;

    posted_task() = default;
    template <class F>
        requires(!std::is_same_v<std::decay_t<F>, posted_task> && std::is_invocable_v<std::decay_t<F>&>)
    explicit posted_task(F&& f) {
        using D = std::decay_t<F>;
        if constexpr (sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<D>) {
            ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            ::new (static_cast<void*>(storage_)) D*(new D(std::forward<F>(f)));
            ops_ = &heap_ops<D>;
        }
    }
    posted_task(posted_task&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
        if (ops_) ops_->relocate(other.storage_, storage_);
    }
    posted_task& operator=(posted_task&& other) noexcept {
        if (this != &other) {
            reset();
            ops_ = std::exchange(other.ops_, nullptr);
            if (ops_) ops_->relocate(other.storage_, storage_);
        }
        return *this;
    }
    posted_task(const posted_task&) = delete;
    posted_task& operator=(const posted_task&) = delete;
    ~posted_task() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }
    void operator()() { ops_->run(storage_); }

private:
    struct operations {
        void (*run)(void*);
        void (*relocate)(void* from, void* to) noexcept;   // move-constructs `to`, destroys `from`
        void (*destroy)(void*) noexcept;
    };
    template <class D>
    static constexpr operations inline_ops{
        [](void* p) { (*static_cast<D*>(p))(); },
        [](void* from, void* to) noexcept {
            ::new (to) D(std::move(*static_cast<D*>(from)));
            static_cast<D*>(from)->~D();
        },
        [](void* p) noexcept { static_cast<D*>(p)->~D(); },
    };
    template <class D>
    static constexpr operations heap_ops{
        [](void* p) { (**static_cast<D**>(p))(); },
        [](void* from, void* to) noexcept { ::new (to) D*(*static_cast<D**>(from)); },
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };

    void reset() noexcept {
        if (ops_) std::exchange(ops_, nullptr)->destroy(storage_);
    }

    alignas(std::max_align_t) unsigned char storage_[inline_size];
    const operations* ops_ = nullptr;
};

} // namespace tether::net
