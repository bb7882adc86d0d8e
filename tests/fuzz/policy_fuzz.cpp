// libFuzzer target: the policy YAML loader (nospace::parse_policy, common/policy.cpp).
// Property: any text either yields a Policy or throws PolicyError naming the problem; no other
// exception, crash or hang. A loaded policy must also serialise (to_json) without throwing.
#include "common/policy.hpp"
#include "common/policy_reader.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    nospace::Policy policy = nospace::parse_policy(text, "fuzz.yaml");
    (void)nospace::to_json(policy).dump();
  } catch (const nospace::PolicyError &) {
  }
  return 0;
}
