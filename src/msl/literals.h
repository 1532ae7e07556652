// MSL's numeric literals in C++ terms: an unsuffixed floating literal is a float, `h` makes a half.
#pragma once

#include <optional>
#include <string>

namespace metallic::msl {

// The C++ spelling of an MSL number token when it differs: "1.0" -> "1.0f",
// "0.5h" -> "::metal::half(0.5f)". Integers and float-suffixed literals give nullopt.
std::optional<std::string> rewrite_number(const std::string& text);

}  // namespace metallic::msl
