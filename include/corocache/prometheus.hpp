// Prometheus metrics for instrumented backends (built when prometheus-cpp is found:
// COROCACHE_WITH_PROMETHEUS, target corocache::prometheus).
//
//   prometheus::Registry& registry = ...;                 // the service's own registry
//   corocache::prometheus_metrics metrics(registry);
//   corocache::instrumented<std::string> cache(std::move(redis), "redis",
//                                              metrics.observer_for("redis"));
//
// Registers, with conventional names:
// - corocache_operations_total{backend,operation,result}: a counter per operation and outcome
//   (result is hit or miss for get, ok or error for the others, error also for a failed get);
// - corocache_operation_duration_seconds{backend,operation}: a latency histogram per operation,
//   buckets from 50 us to 5 s.
// Every series of a backend is created by observer_for(), so observing is a few atomic adds.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "corocache/instrumented.hpp"

namespace corocache {

/// The corocache metric families in one prometheus::Registry, and observers that feed them.
class prometheus_metrics {
 public:
  /// Registers the two families in `registry`, which must outlive this object.
  explicit prometheus_metrics(prometheus::Registry& registry)
      : operations_(prometheus::BuildCounter()
                        .Name("corocache_operations_total")
                        .Help("Cache operations by backend, operation and result")
                        .Register(registry)),
        durations_(prometheus::BuildHistogram()
                       .Name("corocache_operation_duration_seconds")
                       .Help("Cache operation latency by backend and operation")
                       .Register(registry)) {}

  /// An observer for instrumented<T> that records under backend="<backend>". Create one per
  /// backend; it refers to this object's families, which the registry owns.
  [[nodiscard]] std::shared_ptr<operation_observer> observer_for(const std::string& backend) {
    auto observer = std::make_shared<series>();
    for (std::size_t op = 0; op < operation_count; ++op) {
      const std::string op_name(name_of(static_cast<operation>(op)));
      for (std::size_t result = 0; result < outcome_count; ++result) {
        observer->counters[op][result] =
            &operations_.Add({{"backend", backend},
                              {"operation", op_name},
                              {"result", std::string(name_of(static_cast<outcome>(result)))}});
      }
      observer->histograms[op] =
          &durations_.Add({{"backend", backend}, {"operation", op_name}}, buckets());
    }
    return observer;
  }

 private:
  struct series final : operation_observer {
    std::array<std::array<prometheus::Counter*, outcome_count>, operation_count> counters{};
    std::array<prometheus::Histogram*, operation_count> histograms{};

    void observe(operation op, outcome result, std::optional<errc>,
                 std::chrono::nanoseconds duration) noexcept override {
      const auto i = static_cast<std::size_t>(op);
      counters[i][static_cast<std::size_t>(result)]->Increment();
      histograms[i]->Observe(std::chrono::duration<double>(duration).count());
    }
  };

  static prometheus::Histogram::BucketBoundaries buckets() {
    return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3, 5e-3, 10e-3,
            25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0,    2.5,  5.0};
  }

  prometheus::Family<prometheus::Counter>& operations_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

}  // namespace corocache
