// Choosing a backend from configuration: a registry of backend factories by name, and
// make_backend(), which builds a backend from a URL such as "memory://?max_size=10000".
//
// Built in: "memory" (memory://?max_size=N&clean_interval=30s&shards=N) and "null" (null://),
// plus "redis", "unix", "rediss", "redis-sentinel", "rediss-sentinel" and "redis-cluster" when the
// library was built with the Redis backend (COROCACHE_WITH_REDIS in corocache/config.hpp) and T
// has a codec (corocache/codec.hpp). The registry is per value type T and is safe to use from any
// thread.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "corocache/backend_url.hpp"
#include "corocache/cache_backend.hpp"
#include "corocache/error.hpp"
#include "corocache/fail_open.hpp"

namespace corocache {

/// Builds a backend from a parsed URL; it must reject URL parts and parameters it does not use.
template <class T>
using backend_factory = std::function<std::unique_ptr<CacheBackend<T>>(
    const backend_url&, const asio::any_io_executor&)>;

template <class T>
class backend_registry;

namespace detail {
template <class T>
void register_builtin_backends(backend_registry<T>& registry);
// Why a built-in scheme is missing for T (e.g. ": T has no codec"), or "" for other names.
template <class T>
std::string missing_builtin_backend(std::string_view name);
}  // namespace detail

/// The factories known for value type T. Use the free functions below; this class is the state.
template <class T>
class backend_registry {
 public:
  /// The registry of value type T (one per T, created on first use with the built-in backends).
  [[nodiscard]] static backend_registry& instance() {
    static backend_registry registry;
    return registry;
  }

  /// Registers `factory` under `name`; errc::duplicate_backend when the name is taken.
  void add(std::string name, backend_factory<T> factory) {
    if (!factory) detail::throw_error(errc::invalid_argument, "register_backend: empty factory");
    if (!is_reachable_scheme(name)) {
      detail::throw_error(errc::invalid_argument,
                          "register_backend: \"" + name +
                              "\" can never be a URL scheme (make_backend lower-cases schemes): "
                              "use a lower-case letter, then lower-case letters, digits, '+', "
                              "'-' or '.'");
    }
    std::lock_guard lock(mutex_);
    if (!factories_.emplace(name, std::move(factory)).second) {
      detail::throw_error(errc::duplicate_backend, "register_backend: a backend named \"" + name +
                                                       "\" is already registered");
    }
  }

  /// Forgets the factory registered under `name`; false when there was none.
  bool remove(std::string_view name) {
    std::lock_guard lock(mutex_);
    auto it = factories_.find(name);
    if (it == factories_.end()) return false;
    factories_.erase(it);
    return true;
  }

  /// The factory registered under `name`; errc::unknown_backend, listing the known names, if none.
  [[nodiscard]] backend_factory<T> find(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = factories_.find(name);
    if (it != factories_.end()) return it->second;
    std::string known;
    for (const auto& [registered, factory] : factories_)
      known += (known.empty() ? "" : ", ") + registered;
    detail::throw_error(errc::unknown_backend, "no backend named \"" + std::string(name) + "\"" +
                                                   detail::missing_builtin_backend<T>(name) +
                                                   " (registered: " + known + ")");
  }

  /// The registered names, sorted.
  [[nodiscard]] std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& entry : factories_) out.push_back(entry.first);
    return out;
  }

  /// Forgets every factory, then registers the built-in ones again (for tests).
  void reset() {
    {
      std::lock_guard lock(mutex_);
      factories_.clear();
    }
    detail::register_builtin_backends(*this);
  }

 private:
  backend_registry() { detail::register_builtin_backends(*this); }

  // What backend_url::parse() can produce as a scheme, so that make_backend() can reach the name.
  static bool is_reachable_scheme(std::string_view name) {
    const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    if (name.empty() || !lower(name.front())) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) {
      return lower(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    });
  }

  mutable std::mutex mutex_;
  std::map<std::string, backend_factory<T>, std::less<>> factories_;
};

/// The factory registered under `name`; errc::unknown_backend (listing the known names) if none.
template <class T>
[[nodiscard]] backend_factory<T> get_backend(std::string_view name) {
  return backend_registry<T>::instance().find(name);
}

/// Registers a user backend under `name`, the URL scheme that selects it: a lower-case letter,
/// then lower-case letters, digits, '+', '-' or '.' (errc::invalid_argument otherwise, since
/// make_backend() could never reach it); errc::duplicate_backend when `name` is taken.
template <class T>
void register_backend(std::string name, backend_factory<T> factory) {
  backend_registry<T>::instance().add(std::move(name), std::move(factory));
}

/// Removes a registration; false when there was none.
template <class T>
bool unregister_backend(std::string_view name) {
  return backend_registry<T>::instance().remove(name);
}

/// The names registered for T, sorted.
template <class T>
[[nodiscard]] std::vector<std::string> registered_backends() {
  return backend_registry<T>::instance().names();
}

/// Builds the backend a configuration URL names, by its scheme ("fail-open+" in front of any URL
/// wraps its backend in fail_open). The backend still needs
/// co_await initialize(). Throws errc::invalid_argument for a malformed URL or an unknown
/// parameter, errc::unknown_backend for an unknown scheme; for redis:// that message says why
/// it is missing (a memory-only build, or no codec<T>).
template <class T>
[[nodiscard]] std::unique_ptr<CacheBackend<T>> make_backend(std::string_view url,
                                                            const asio::any_io_executor& executor) {
  // "fail-open+<any backend URL>" wraps that backend in fail_open (fail_open.hpp).
  if (auto wrapped = detail::fail_open_target(url))
    return std::make_unique<fail_open<T>>(make_backend<T>(*wrapped, executor));
  const auto parsed = backend_url::parse(url);
  return get_backend<T>(parsed.scheme)(parsed, executor);
}

}  // namespace corocache

#include "corocache/detail/builtin_backends.hpp"
