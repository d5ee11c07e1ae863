#include "ops/lti_discretization.h"

#include "core/error.h"
#include "core/suggest.h"

namespace ssm {

LtiDiscretization parse_lti_discretization(const std::string& s) {
  if (s == "zoh") return LtiDiscretization::zoh;
  if (s == "bilinear") return LtiDiscretization::bilinear;
  if (s == "generalized_bilinear") return LtiDiscretization::generalized_bilinear;
  SSM_FAIL("discretization ", quote_word(s), " is not one of zoh, bilinear, generalized_bilinear",
           did_you_mean(s, {"zoh", "bilinear", "generalized_bilinear"}));
}

const char* lti_discretization_name(LtiDiscretization d) {
  switch (d) {
    case LtiDiscretization::zoh: return "zoh";
    case LtiDiscretization::bilinear: return "bilinear";
    case LtiDiscretization::generalized_bilinear: return "generalized_bilinear";
  }
  return "?";
}

}  // namespace ssm
