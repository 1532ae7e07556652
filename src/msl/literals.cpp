#include "msl/literals.h"

#include <cctype>

namespace metallic::msl {

std::optional<std::string> rewrite_number(const std::string& text) {
  bool hex = text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  // The suffix is the run of letters after the last digit (hex digits count for hex literals,
  // whose exponent 'p' always ends in decimal digits).
  size_t end = text.size();
  while (end > 0 && std::isalpha(static_cast<unsigned char>(text[end - 1])) &&
         !(hex && std::isxdigit(static_cast<unsigned char>(text[end - 1])) &&
           text.find_first_of("pP") == std::string::npos)) {
    --end;
  }
  std::string body = text.substr(0, end);
  std::string suffix = text.substr(end);
  bool floating = hex ? body.find_first_of("pP") != std::string::npos : body.find_first_of(".eE") != std::string::npos;
  if (suffix == "h" || suffix == "H") {
    if (!floating && hex) return std::nullopt;
    return "::metal::half(" + body + (floating ? "" : ".0") + "f)";
  }
  if (suffix == "bf" || suffix == "BF") {  // MSL 3.1 bfloat literal
    if (!floating && hex) return std::nullopt;
    return "::metal::bfloat(" + body + (floating ? "" : ".0") + "f)";
  }
  if (!floating) return std::nullopt;
  if (suffix.empty()) return body + "f";
  if (suffix == "l" || suffix == "L") return body + "f";  // MSL has no long double
  return std::nullopt;
}

}  // namespace metallic::msl
