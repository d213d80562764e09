// A Zipf(s) sampler over ranks 1..n, for the memory benchmarks and the hit ratio simulator.
//
// Rejection-inversion (Hörmann and Derflinger, "Rejection-inversion to generate variates from
// monotone discrete distributions", 1996): O(1) per sample and no table, so a 1M-key trace costs
// no memory beyond the trace itself. Rank 1 is the most popular.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace bench {

class zipf_sampler {
 public:
  zipf_sampler(std::uint64_t n, double exponent) : n_(n), s_(exponent) {
    h_integral_x1_ = h_integral(1.5) - 1.0;
    h_integral_n_ = h_integral(static_cast<double>(n) + 0.5);
    threshold_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
  }

  template <class Engine>
  std::uint64_t operator()(Engine& engine) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (;;) {
      const double u = h_integral_n_ + uniform(engine) * (h_integral_x1_ - h_integral_n_);
      const double x = h_integral_inverse(u);
      const auto k = std::clamp<double>(std::floor(x + 0.5), 1.0, static_cast<double>(n_));
      if (k - x <= threshold_ || u >= h_integral(k + 0.5) - h(k)) {
        return static_cast<std::uint64_t>(k);
      }
    }
  }

 private:
  double h(double x) const { return std::exp(-s_ * std::log(x)); }
  double h_integral(double x) const {
    const double log_x = std::log(x);
    return helper2((1.0 - s_) * log_x) * log_x;
  }
  double h_integral_inverse(double x) const {
    const double t = std::max(-1.0, x * (1.0 - s_));
    return std::exp(helper1(t) * x);
  }
  // log1p(x)/x and expm1(x)/x, with their limits at 0.
  static double helper1(double x) {
    return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
  }
  static double helper2(double x) {
    return std::abs(x) > 1e-8 ? std::expm1(x) / x
                              : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
  }

  std::uint64_t n_;
  double s_;
  double h_integral_x1_;
  double h_integral_n_;
  double threshold_;
};

/// `count` zero-based key indices drawn from Zipf(exponent) over `keys` keys.
inline std::vector<std::uint32_t> zipf_trace(std::uint64_t keys, double exponent, std::size_t count,
                                             std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  zipf_sampler sampler(keys, exponent);
  std::vector<std::uint32_t> trace(count);
  for (auto& index : trace) index = static_cast<std::uint32_t>(sampler(engine) - 1);
  return trace;
}

}  // namespace bench
