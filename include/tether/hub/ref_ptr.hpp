#pragma once
// Shared ownership for the broadcast core: an intrusive reference count (`ref_counted`, `ref_ptr`) and an
// atomic slot holding one (`atomic_ref_ptr`) that any number of threads may read while others replace it.
//
// Why intrusive: a published message is shared by every subscriber on every I/O thread; one counter inside
// the message means one allocation per message and a pointer-sized handle per queued write. std::shared_ptr
// would add a control block and twice the handle size.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 implements it with an internal spin lock (readers
// would block writers, and it is not lock-free), and libc++ 14 lacks it. A seqlock over a raw pointer is not
// enough either: a reader that copies the pointer and then increments the count may touch an object that a
// writer freed in between; re-checking a stamp afterwards comes too late.
//
// What we do instead is "split reference counting" (the scheme described in Williams, *C++ Concurrency in
// Action*, ch. 7, for lock-free stacks): the slot's 64-bit word packs the pointer (low 48 bits) with a small
// count of readers that are in the middle of taking a reference (high 16 bits, the "borrows").
//   - A reader does one fetch_add on the word: it learns the pointer and, in the same atomic step, registers
//     a borrow, so the object cannot be freed under it. It then takes a real reference on the object and
//     gives the borrow back with a CAS, provided the slot still holds that pointer.
//   - A writer swaps the word; whatever borrows the old word carried are transferred into the old object's
//     own count, and each of those readers, finding the pointer changed, drops the borrow from the object
//     instead of from the slot.
// No reader ever waits for a writer or the other way round; every step is an ordinary atomic that
// ThreadSanitizer models exactly (no fences, no 128-bit CAS).
//
// Precondition, true for every use in the hub: an object is stored into a given slot at most once (the ring
// stores fresh messages, the topic stores fresh waker lists). Re-storing the same object could let a stale
// borrow be returned to the wrong generation (ABA).
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace tether::hub {

/// Mixin giving `Derived` an intrusive atomic reference count that starts at one (the creator's reference).
/// `Derived` may provide `static void destroy(Derived const*) noexcept` when it is not allocated by `new`.
template <class Derived>
class ref_counted {
public:
    ref_counted() noexcept = default;
    ref_counted(ref_counted const&) = delete;
    ref_counted& operator=(ref_counted const&) = delete;

    // Taking a reference needs no ordering: the caller already holds one, so the object is alive and
    // visible to it; only the final release must order every earlier use before the destruction.
    friend void intrusive_add_ref(Derived const* object, std::uint32_t count = 1) noexcept {
        static_cast<ref_counted const*>(object)->references_.fetch_add(count, std::memory_order_relaxed);
    }

    // acq_rel: release publishes this thread's uses of the object; acquire, on the decrement that reaches
    // zero, makes every other thread's uses happen before the destructor. (An acquire fence after a
    // release decrement would be cheaper on some CPUs, but ThreadSanitizer does not model fences.)
    friend void intrusive_release(Derived const* object, std::uint32_t count = 1) noexcept {
        auto const before = static_cast<ref_counted const*>(object)->references_.fetch_sub(
            count, std::memory_order_acq_rel);
        assert(before >= count);
        if (before == count) {
            if constexpr (requires { Derived::destroy(object); }) {
                Derived::destroy(object);
            } else {
                delete object;
            }
        }
    }

    // Drops references the caller knows are not the last (it holds another one, to be released later with
    // intrusive_release). relaxed: that later release orders this thread's uses before the destruction.
    // Having no delete path here also tells the compiler the object is still alive afterwards.
    friend void intrusive_release_not_last(Derived const* object, std::uint32_t count) noexcept {
        [[maybe_unused]] auto const before =
            static_cast<ref_counted const*>(object)->references_.fetch_sub(count, std::memory_order_relaxed);
        assert(before > count);
    }

    /// For tests and diagnostics only: the count may change as soon as it is read.
    std::uint32_t use_count() const noexcept { return references_.load(std::memory_order_relaxed); }

protected:
    ~ref_counted() = default;

private:
    mutable std::atomic<std::uint32_t> references_{1};
};

/// Owning handle to a `ref_counted` object; copying it adds a reference, destroying it drops one.
template <class T>
class ref_ptr {
public:
    constexpr ref_ptr() noexcept = default;
    constexpr ref_ptr(std::nullptr_t) noexcept {}

    /// Takes over a reference the caller already owns (e.g. the initial one of a new object).
    static ref_ptr adopt(T* object) noexcept { return ref_ptr{object}; }
    /// Adds a reference to an object the caller can already see alive.
    static ref_ptr share(T* object) noexcept {
        if (object != nullptr) intrusive_add_ref(object, 1);
        return ref_ptr{object};
    }

    ref_ptr(ref_ptr const& other) noexcept : object_{other.object_} {
        if (object_ != nullptr) intrusive_add_ref(object_, 1);
    }
    ref_ptr(ref_ptr&& other) noexcept : object_{std::exchange(other.object_, nullptr)} {}
    template <class U>
        requires std::is_convertible_v<U*, T*>
    ref_ptr(ref_ptr<U> other) noexcept : object_{other.detach()} {}

    ref_ptr& operator=(ref_ptr other) noexcept {
        std::swap(object_, other.object_);
        return *this;
    }
    ~ref_ptr() {
        if (object_ != nullptr) intrusive_release(object_, 1);
    }

    T* get() const noexcept { return object_; }
    T& operator*() const noexcept { return *object_; }
    T* operator->() const noexcept { return object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

    /// Gives up ownership without releasing; the caller now owns the reference.
    T* detach() noexcept { return std::exchange(object_, nullptr); }

    friend bool operator==(ref_ptr const& a, ref_ptr const& b) noexcept { return a.object_ == b.object_; }
    friend bool operator==(ref_ptr const& a, std::nullptr_t) noexcept { return a.object_ == nullptr; }

private:
    explicit ref_ptr(T* object) noexcept : object_{object} {}
    T* object_ = nullptr;
};

/// Creates a `T` with `new` and adopts its initial reference.
template <class T, class... Args>
ref_ptr<T> make_ref(Args&&... args) {
    return ref_ptr<T>::adopt(new T(std::forward<Args>(args)...));
}

/// One atomically replaceable `ref_ptr<T>`, readable and writable from any thread, lock-free (see the top
/// of this file for the scheme and its single precondition).
template <class T>
class atomic_ref_ptr {
    static_assert(sizeof(void*) == 8, "split reference counting packs a 48-bit pointer into 64 bits");

public:
    atomic_ref_ptr() noexcept = default;
    explicit atomic_ref_ptr(ref_ptr<T> initial) noexcept : word_{pack(initial.detach())} {}
    atomic_ref_ptr(atomic_ref_ptr const&) = delete;
    atomic_ref_ptr& operator=(atomic_ref_ptr const&) = delete;

    /// Destruction must not race with any other use, so no borrows can be outstanding.
    ~atomic_ref_ptr() {
        auto const word = word_.load(std::memory_order_acquire);
        assert(borrows_of(word) == 0);
        if (T* object = pointer_of(word)) intrusive_release(object, 1);
    }

    /// A new reference to the object currently held (or null).
    ref_ptr<T> load() const noexcept {
        // acquire: pairs with the release half of the exchange/CAS that stored this pointer, so the object's
        // contents (written before it was stored) are visible. Other readers' fetch_adds and give-backs in
        // between are read-modify-writes and therefore continue that release sequence.
        auto word = word_.fetch_add(one_borrow, std::memory_order_acquire);
        T* const object = pointer_of(word);
        assert(borrows_of(word) != max_borrows && "more than 65535 concurrent readers of one slot");
        if (object == nullptr) {
            give_back_borrow(word + one_borrow, nullptr);
            return {};
        }
        // Our borrow keeps the object alive until we hold a reference of our own.
        intrusive_add_ref(object, 1);
        give_back_borrow(word + one_borrow, object);
        return ref_ptr<T>::adopt(object);
    }

    /// Stores `desired` and returns what the slot held before, with the slot's reference.
    ref_ptr<T> exchange(ref_ptr<T> desired) noexcept {
        // acq_rel: release publishes `desired`'s contents to readers; acquire orders every reference a
        // reader took before returning its borrow (see give_back_borrow) before we may drop the old one.
        auto const old = word_.exchange(pack(desired.detach()), std::memory_order_acq_rel);
        return settle(old);
    }

    void store(ref_ptr<T> desired) noexcept { (void)exchange(std::move(desired)); }

    /// Replaces the held object by `desired` if the slot still holds `expected.get()` (compared as a
    /// pointer, whatever borrows are in flight). On failure `expected` is refreshed with the current object.
    bool compare_exchange(ref_ptr<T>& expected, ref_ptr<T> desired) noexcept {
        auto word = word_.load(std::memory_order_relaxed);   // only compared; the CAS below orders
        auto const replacement = pack(desired.get());
        for (;;) {
            if (pointer_of(word) != expected.get()) {
                expected = load();
                return false;
            }
            // acq_rel on success for the same reasons as exchange(); relaxed on failure: we only retry.
            if (word_.compare_exchange_weak(word, replacement, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
                (void)desired.detach();   // the slot owns that reference now
                (void)settle(word);       // drops the slot's old reference
                return true;
            }
        }
    }

private:
    static constexpr unsigned pointer_bits = 48;
    static constexpr std::uint64_t pointer_mask = (std::uint64_t{1} << pointer_bits) - 1;
    static constexpr std::uint64_t one_borrow = std::uint64_t{1} << pointer_bits;
    static constexpr std::uint64_t max_borrows = (std::uint64_t{1} << (64 - pointer_bits)) - 1;

    static std::uint64_t pack(T* object) noexcept {
        auto const bits = reinterpret_cast<std::uintptr_t>(object);
        // x86-64 and AArch64 user space hand out addresses below 2^48 unless a program asks otherwise.
        assert((bits & ~pointer_mask) == 0);
        return bits;
    }
    static T* pointer_of(std::uint64_t word) noexcept {
        return reinterpret_cast<T*>(static_cast<std::uintptr_t>(word & pointer_mask));
    }
    static std::uint64_t borrows_of(std::uint64_t word) noexcept { return word >> pointer_bits; }

    // Returns our borrow to the slot if it still holds `object`; otherwise the writer that replaced it has
    // moved our borrow into the object's own count, so we drop it there (never the last reference: the
    // caller took its own before calling this).
    //
    // A borrow taken on an empty slot guards nothing, and a writer that fills the slot drops it (settle()
    // has no object to move it into). If the slot is emptied again before we get here (null -> P -> null:
    // ring::remove() evicting P), the word is null once more with our borrow already gone: then there is
    // nothing to give back, and decrementing would wrap the count. The borrows left on a null word may be
    // other readers' (we could take one of theirs), which is harmless for the same reason: on a null word
    // the count only has to stay non-negative.
    void give_back_borrow(std::uint64_t word, T* object) const noexcept {
        for (;;) {
            if (pointer_of(word) != object) {
                if (object != nullptr) intrusive_release_not_last(object, 1);
                return;
            }
            if (object == nullptr && borrows_of(word) == 0) return;
            assert(borrows_of(word) > 0);
            // release on success: the reference we just took (intrusive_add_ref above) must happen before a
            // writer that later swaps this word out (and reads it with acquire) drops the slot's reference;
            // otherwise that drop could reach zero first and free the object under us.
            if (word_.compare_exchange_weak(word, word - one_borrow, std::memory_order_release,
                                            std::memory_order_relaxed)) {
                return;
            }
        }
    }

    // The slot's own reference to the old object becomes the returned handle; borrows still outstanding are
    // added to the object's count, and each borrower will drop one when it sees the pointer changed.
    static ref_ptr<T> settle(std::uint64_t old_word) noexcept {
        T* const object = pointer_of(old_word);
        if (object == nullptr) return {};
        if (auto const borrows = borrows_of(old_word); borrows != 0) {
            intrusive_add_ref(object, static_cast<std::uint32_t>(borrows));
        }
        return ref_ptr<T>::adopt(object);
    }

    mutable std::atomic<std::uint64_t> word_{0};
};

}  // namespace tether::hub
