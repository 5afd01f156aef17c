// Error characterization of a multiplier, as EvoApprox reports it.
//
// Errors are taken over the multiplier's own operand domain with uniform
// operands: every pair of -128..127 for a signed table, of 0..255 for an
// unsigned one (an unsigned table is characterized as the unsigned circuit,
// not in its sign-magnitude use). error = table product - exact product.
// The output range of an 8x8 multiplier is 2^16 for both signednesses; the
// `_pct` fields are percentages of it, except MRE, WCRE and EP, which are
// percentages by nature.
#pragma once

#include "core/multiplier.h"

namespace agnx {

// The output range of an 8x8 multiplier: 2^16.
inline constexpr double kOutputRange = 65536.0;

struct ErrorCharacterization {
  double mae = 0.0;         // mean |error|
  double wce = 0.0;         // worst-case |error|
  double mse = 0.0;         // mean error^2
  double error_mean = 0.0;  // mean error (the bias)
  double error_std = 0.0;   // population standard deviation of the error
  double mae_pct = 0.0;     // mae / kOutputRange * 100, likewise below
  double wce_pct = 0.0;
  double error_mean_pct = 0.0;
  double error_std_pct = 0.0;
  double mre_pct = 0.0;   // mean |error| / |exact| * 100 over pairs whose exact product is not 0
  double wcre_pct = 0.0;  // the worst such relative error, in percent
  double ep_pct = 0.0;    // percentage of pairs whose product is wrong

  // True when every product is exact.
  bool error_free() const { return wce == 0.0; }
};

// The characterization of `multiplier` over its uniform operand domain.
ErrorCharacterization characterize(const Multiplier& multiplier);

}  // namespace agnx
