// The mixer registry: one line per mixer (nn/mixer.h).
#include "core/error.h"
#include "nn/mamba.h"
#include "nn/mixer.h"
#include "nn/s4.h"
#include "nn/s4d.h"
#include "nn/s5.h"

namespace ssm::nn {

const std::vector<MixerInfo>& mixers() {
  static const std::vector<MixerInfo> all = {
      mamba_mixer_info(),
      s4_mixer_info(),
      s4d_mixer_info(),
      s5_mixer_info(),
  };
  return all;
}

std::vector<std::string> mixer_names() {
  std::vector<std::string> names;
  for (const MixerInfo& m : mixers()) names.push_back(m.name);
  return names;
}

const MixerInfo& mixer_info(const std::string& name) {
  for (const MixerInfo& m : mixers())
    if (m.name == name) return m;
  std::string names;
  for (const MixerInfo& m : mixers()) names += (names.empty() ? "" : ", ") + m.name;
  SSM_FAIL("model.mixer '", name, "' is not a mixer of this build (mixers: ", names, ")");
}

}  // namespace ssm::nn
