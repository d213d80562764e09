// caller_completion: a caller's completion handler, completed later on the caller's executor.
//
// Holds the handler and work on its associated executor (so that the caller's execution context
// stays alive meanwhile), and completes it through a post: never inline, so the code that
// completes it (a connection's strand, a lifecycle change) never runs the caller's code.
//
// Posting is on every operation's path, so it allocates nothing when the caller runs on an
// io_context (what use_awaitable's any_io_executor wraps there): the posted function is built in
// storage inside the operation itself. Other executors take asio::post's usual path.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/execution/allocator.hpp>
#include <asio/execution/blocking.hpp>
#include <asio/execution/execute.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/require.hpp>

namespace corocache::detail {

/// Room for one posted function (the caller's io_context wraps it in an operation of its own).
/// Freeing compares addresses only: the function may own the object this storage is part of,
/// so the storage can be gone by the time asio returns it.
class post_storage {
 public:
  void* allocate(std::size_t size) {
    return size <= sizeof(bytes_) ? static_cast<void*>(bytes_) : ::operator new(size);
  }
  void deallocate(void* p) noexcept {
    if (p != static_cast<void*>(bytes_)) ::operator delete(p);
  }

 private:
  alignas(std::max_align_t) unsigned char bytes_[64];
};

template <class T>
class post_allocator {
 public:
  using value_type = T;
  explicit post_allocator(post_storage& storage) noexcept : storage_(&storage) {}
  template <class U>
  post_allocator(const post_allocator<U>& other) noexcept : storage_(other.storage_) {}

  T* allocate(std::size_t n) { return static_cast<T*>(storage_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { storage_->deallocate(p); }

  friend bool operator==(const post_allocator& a, const post_allocator& b) noexcept {
    return a.storage_ == b.storage_;
  }

 private:
  template <class>
  friend class post_allocator;
  post_storage* storage_;
};

/// The caller's handler plus work on its executor.
template <class Handler>
class caller_completion {
  using executor_type = asio::associated_executor_t<Handler, asio::any_io_executor>;
  using io_executor = asio::io_context::executor_type;
  using io_work = std::decay_t<decltype(asio::require(std::declval<io_executor>(),
                                                      asio::execution::outstanding_work.tracked))>;
  using any_work = std::decay_t<decltype(asio::prefer(std::declval<executor_type>(),
                                                      asio::execution::outstanding_work.tracked))>;

 public:
  /// What keeps the caller's execution context running until the handler has run.
  using work_type = std::variant<std::monostate, io_work, any_work>;

  caller_completion(Handler handler, const asio::any_io_executor& fallback)
      : handler_(std::move(handler)) {
    const auto executor = asio::get_associated_executor(handler_, fallback);
    if constexpr (std::is_same_v<executor_type, asio::any_io_executor>) {
      if (const auto* io = executor.template target<io_executor>()) {
        work_.template emplace<io_work>(
            asio::require(*io, asio::execution::outstanding_work.tracked));
        return;
      }
    }
    work_.template emplace<any_work>(
        asio::prefer(executor, asio::execution::outstanding_work.tracked));
  }

  /// Queues `function` on the caller's executor. `function` owns the object this completion is
  /// part of; when it runs, it takes the handler and the work (take_handler(), take_work()),
  /// may destroy that object, then calls the handler and lets the work go (post_completion()
  /// below does all that).
  template <class Function>
  void post(Function&& function) noexcept {
    if (const auto* io = std::get_if<io_work>(&work_)) {
      asio::execution::execute(
          asio::require(*io, asio::execution::outstanding_work.untracked,
                        asio::execution::blocking.never,
                        asio::execution::allocator(post_allocator<void>(storage_))),
          std::forward<Function>(function));
    } else {
      asio::post(
          asio::prefer(std::get<any_work>(work_), asio::execution::outstanding_work.untracked),
          std::forward<Function>(function));
    }
  }

  Handler take_handler() { return std::move(handler_); }
  work_type take_work() { return std::exchange(work_, std::monostate{}); }

 private:
  Handler handler_;
  work_type work_;
  post_storage storage_;
};

/// Completes an operation that owns its caller_completion (the member `Completion` of `Owner`):
/// posts, to the caller's executor, a function that takes the handler's arguments from the
/// operation (`take(Owner&)` returns them as a tuple), destroys the operation, then calls the
/// handler. The operation is gone before the caller resumes, so the caller may free anything it
/// referred to.
template <auto Completion, class Owner, class TakeArguments>
void post_completion(std::unique_ptr<Owner> owner, TakeArguments take) noexcept {
  auto& completion = (*owner).*Completion;
  completion.post([owner = std::move(owner), take = std::move(take)]() mutable {
    auto arguments = take(*owner);
    auto handler = ((*owner).*Completion).take_handler();
    const auto work = ((*owner).*Completion).take_work();
    owner.reset();
    std::apply(std::move(handler), std::move(arguments));
  });
}

}  // namespace corocache::detail
