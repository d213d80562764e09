// The backends every registry knows from the start, with the URL parameters each accepts.
#pragma once

#include <string>
#include <string_view>

#include "corocache/backend_url.hpp"
#include "corocache/codec.hpp"
#include "corocache/config.hpp"
#include "corocache/detail/type_name.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/null_backend.hpp"
#include "corocache/registry.hpp"
#if COROCACHE_WITH_REDIS
#include "corocache/redis_backend.hpp"
#include "corocache/redis_options.hpp"
#endif

namespace corocache::detail {

inline eviction_policy parse_eviction_policy(std::string_view name, const backend_url& url) {
  if (name == "lru") return eviction_policy::lru;
  if (name == "s3fifo") return eviction_policy::s3_fifo;
  // The value is not shown: a password may have been written as one.
  throw_error(errc::invalid_argument,
              "URL parameter eviction: expected lru or s3fifo (" + url.redacted() + ")");
}

// memory://?max_size=N&clean_interval=60s&shards=N&eviction=lru|s3fifo  (no host, path or
// credentials)
template <class T>
std::unique_ptr<CacheBackend<T>> make_memory_backend(const backend_url& url,
                                                     const asio::any_io_executor&) {
  expect_no_location(url);
  url_parameters params(url);
  memory_options options;
  if (auto v = params.take_unsigned("max_size")) options.max_size = static_cast<std::size_t>(*v);
  if (auto v = params.take_duration("clean_interval")) options.clean_interval = *v;
  if (auto v = params.take_unsigned("shards")) options.shards = static_cast<std::size_t>(*v);
  if (auto v = params.take("eviction")) options.eviction = parse_eviction_policy(*v, url);
  params.reject_unknown();
  return std::make_unique<MemoryCacheBackend<T>>(std::move(options));
}

// null:// takes nothing.
template <class T>
std::unique_ptr<CacheBackend<T>> make_null_backend(const backend_url& url,
                                                   const asio::any_io_executor&) {
  expect_no_location(url);
  url_parameters(url).reject_unknown();
  return std::make_unique<NullCacheBackend<T>>();
}

// redis://[[user]:password@]host[:port][/db], unix:///path.sock?db=N, with ?prefix=, ?db=,
// ?connect_timeout=, ?command_timeout=, ?reconnect_min=, ?reconnect_max=, ?health_check_interval=,
// ?allow_start_offline=, rediss:// (TLS) with ?ca=, ?cert=, ?key=, ?sni=, ?verify= as well, and
// redis-sentinel://host:port,host:port/db?master=NAME with ?sentinel_user=, ?sentinel_password=,
// rediss-sentinel:// (the same over TLS, to the sentinels and the master) with the TLS parameters
// too, and redis-cluster://host:port,host:port (see redis_options.hpp, which rejects every other
// parameter).
#if COROCACHE_WITH_REDIS
template <class T>
std::unique_ptr<CacheBackend<T>> make_redis_backend(const backend_url& url,
                                                    const asio::any_io_executor& executor) {
  return std::make_unique<RedisCacheBackend<T>>(executor, resolve_redis_url(url, redis_options{}));
}
#endif

inline bool is_redis_scheme(std::string_view name) {
  return name == "redis" || name == "rediss" || name == "unix" || name == "redis-sentinel" ||
         name == "rediss-sentinel" || name == "redis-cluster";
}

template <class T>
void register_builtin_backends(backend_registry<T>& registry) {
  registry.add("memory", &make_memory_backend<T>);
  registry.add("null", &make_null_backend<T>);
#if COROCACHE_WITH_REDIS
  if constexpr (has_codec<T>) {
    registry.add("redis", &make_redis_backend<T>);
    registry.add("unix", &make_redis_backend<T>);
    registry.add("rediss", &make_redis_backend<T>);
    registry.add("redis-sentinel", &make_redis_backend<T>);
    registry.add("rediss-sentinel", &make_redis_backend<T>);
    registry.add("redis-cluster", &make_redis_backend<T>);
  }
#endif
}

template <class T>
std::string missing_builtin_backend(std::string_view name) {
  if (!is_redis_scheme(name)) return "";
  if (!COROCACHE_WITH_REDIS) {
    return ": this corocache was built without the Redis backend (COROCACHE_WITH_REDIS=OFF, or "
           "hiredis was not found)";
  }
  if constexpr (!has_codec<T>) {
    return ": the Redis backend stores values through corocache::codec<" +
           std::string(type_name<T>()) +
           ">, which is not defined; specialize it for this type (see corocache/codec.hpp) or "
           "construct RedisCacheBackend<T, Codec> with a codec such as corocache::json_codec<T>";
  }
  return "";
}

}  // namespace corocache::detail
