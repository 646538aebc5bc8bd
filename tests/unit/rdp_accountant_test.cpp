// The RDP accountant against published values. Sources:
//  [O1] Opacus, opacus/tests/accountants_test.py, test_rdp_accountant (github.com/pytorch/opacus,
//       commit 2f4b546): noise 1.5, sample rate 0.04, int(90 / 0.04) = 2250 steps, delta 1e-5
//       -> epsilon 7.32911117143 (RDPAccountant with its default orders and the Balle et al.
//       2020 conversion, as here).
//  The inverse (noise for a target) is checked against [O1] read backwards. Opacus's own
//  test_get_noise_multiplier value (1.425307617 for epsilon 8) is not used: its bisection over
//  [0, 20] only yields dyadic fractions of 20, which that value is not, so it cannot be
//  reproduced from the code it sits beside.
#include <catch2/catch.hpp>

#include <cmath>

#include "src/common/error.h"
#include "src/privacy/rdp_accountant.h"

using namespace lethe;

TEST_CASE("rdp accountant: epsilon of DP-SGD matches Opacus's published value", "[privacy]") {
  const PrivacySpent p = rdp_epsilon({{1.5, 0.04, 2250}}, 1e-5);  // [O1]
  CHECK(std::abs(p.epsilon - 7.32911117143) < 1e-7);
  CHECK(p.accountant == "rdp");
  CHECK_FALSE(p.order_at_edge);
}

TEST_CASE("rdp accountant: the noise for a target epsilon is the smallest that reaches it", "[privacy]") {
  // [O1] backwards: 7.32911117143 at delta 1e-5 in 2250 steps at rate 0.04 takes noise 1.5.
  const double sigma = noise_for_epsilon(7.32911117143, 1e-5, 0.04, 2250);
  CHECK(sigma == Approx(1.5).epsilon(1e-5));
  const double eight = noise_for_epsilon(8.0, 1e-5, 0.04, 2250);
  CHECK(rdp_epsilon({{eight, 0.04, 2250}}, 1e-5).epsilon <= 8.0);
  CHECK(rdp_epsilon({{eight * (1 - 1e-5), 0.04, 2250}}, 1e-5).epsilon > 8.0);  // and no less noise would do
  CHECK(eight < 1.5);
}

TEST_CASE("rdp accountant: closed forms, composition and fractional orders", "[privacy]") {
  // Without subsampling the Gaussian mechanism's RDP is alpha / (2 sigma^2) (Mironov 2017).
  CHECK(sgm_rdp(1.0, 2.0, 5.0) == Approx(5.0 / 8.0));
  CHECK(sgm_rdp(0.0, 2.0, 5.0) == 0.0);
  CHECK(std::isinf(sgm_rdp(0.5, 0.0, 5.0)));
  // Subsampling only helps, and the integer and fractional series agree where they meet.
  CHECK(sgm_rdp(0.01, 1.0, 8.0) < 8.0 / 2.0);
  CHECK(sgm_rdp(0.01, 1.0, 8.0 + 1e-9) == Approx(sgm_rdp(0.01, 1.0, 8.0)).epsilon(1e-6));
  CHECK(sgm_rdp(0.01, 1.0, 2.5) > sgm_rdp(0.01, 1.0, 2.0));
  CHECK(sgm_rdp(0.01, 1.0, 2.5) < sgm_rdp(0.01, 1.0, 3.0));
  // Runs compose by adding RDP: two runs are one run of their summed steps.
  const double split = rdp_epsilon({{1.5, 0.04, 1000}, {1.5, 0.04, 1250}}, 1e-5).epsilon;
  CHECK(split == Approx(rdp_epsilon({{1.5, 0.04, 2250}}, 1e-5).epsilon).epsilon(1e-12));
  // More steps, more epsilon; more noise, less.
  CHECK(rdp_epsilon({{1.5, 0.04, 3000}}, 1e-5).epsilon > split);
  CHECK(rdp_epsilon({{2.0, 0.04, 2250}}, 1e-5).epsilon < split);
}

TEST_CASE("rdp accountant: what RDP cannot certify, and bad inputs, are clear errors", "[privacy]") {
  // With orders up to 63, nothing below epsilon ~ 0.36 at delta 1e-12, whatever the noise.
  const PrivacySpent floor = rdp_epsilon({{1e6, 0.01, 1}}, 1e-12);
  CHECK(floor.epsilon == Approx(0.363).margin(0.002));
  CHECK(floor.order_at_edge);
  CHECK_THROWS_WITH(noise_for_epsilon(0.3, 1e-12, 0.01, 1000), Catch::Contains("cannot be reached"));
  for (const double delta : {0.0, 1.0, -1e-5}) {
    CHECK_THROWS_AS(rdp_epsilon({{1.0, 0.1, 10}}, delta), Error);
  }
  CHECK_THROWS_WITH(noise_for_epsilon(0.0, 1e-5, 0.01, 10), Catch::Contains("positive"));
  CHECK_THROWS_WITH(noise_for_epsilon(-1.0, 1e-5, 0.01, 10), Catch::Contains("positive"));
  CHECK_THROWS_WITH(rdp_epsilon({{1.0, 1.5, 10}}, 1e-5), Catch::Contains("sample rate"));
  CHECK_THROWS_WITH(rdp_epsilon({{-1.0, 0.5, 10}}, 1e-5), Catch::Contains("noise"));
}
