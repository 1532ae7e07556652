#include "msl/kernel_params.h"

#include <cctype>
#include <cstring>

#include "msl/macros.h"

namespace metallic::msl {
namespace {

struct BuiltinSpec {
  const char* name;
  BuiltinKind kind;
  bool vector_ok;  // position/size attributes come in 1-3 components; indices are scalars
};

const BuiltinSpec kBuiltins[] = {
    {"thread_position_in_grid", BuiltinKind::ThreadPositionInGrid, true},
    {"threads_per_grid", BuiltinKind::ThreadsPerGrid, true},
    {"thread_position_in_threadgroup", BuiltinKind::ThreadPositionInThreadgroup, true},
    {"threads_per_threadgroup", BuiltinKind::ThreadsPerThreadgroup, true},
    {"dispatch_threads_per_threadgroup", BuiltinKind::DispatchThreadsPerThreadgroup, true},
    {"thread_index_in_threadgroup", BuiltinKind::ThreadIndexInThreadgroup, false},
    {"threadgroup_position_in_grid", BuiltinKind::ThreadgroupPositionInGrid, true},
    {"threadgroups_per_grid", BuiltinKind::ThreadgroupsPerGrid, true},
    {"thread_index_in_simdgroup", BuiltinKind::ThreadIndexInSimdgroup, false},
    {"simdgroup_index_in_threadgroup", BuiltinKind::SimdgroupIndexInThreadgroup, false},
    {"simdgroups_per_threadgroup", BuiltinKind::SimdgroupsPerThreadgroup, false},
    {"dispatch_simdgroups_per_threadgroup", BuiltinKind::DispatchSimdgroupsPerThreadgroup, false},
    {"threads_per_simdgroup", BuiltinKind::ThreadsPerSimdgroup, false},
    {"thread_execution_width", BuiltinKind::ThreadExecutionWidth, false},
    {"thread_index_in_quadgroup", BuiltinKind::ThreadIndexInQuadgroup, false},
    {"quadgroup_index_in_threadgroup", BuiltinKind::QuadgroupIndexInThreadgroup, false},
    {"quadgroups_per_threadgroup", BuiltinKind::QuadgroupsPerThreadgroup, false},
    {"dispatch_quadgroups_per_threadgroup", BuiltinKind::DispatchQuadgroupsPerThreadgroup, false},
    {"grid_origin", BuiltinKind::GridOrigin, true},
    {"grid_size", BuiltinKind::GridSize, true},
};

const BuiltinSpec* find_builtin(const std::string& name) {
  for (const BuiltinSpec& b : kBuiltins)
    if (name == b.name) return &b;
  return nullptr;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Element type and component count of a builtin's type text ("uint3" -> uint, 3), or false.
bool builtin_type(std::string type, std::string* element, int* components) {
  if (type.rfind("metal::", 0) == 0) type = type.substr(7);
  static const struct {
    const char* text;
    const char* element;
    int n;
  } kTypes[] = {
      {"uint", "uint", 1},
      {"uint2", "uint", 2},
      {"uint3", "uint", 3},
      {"ushort", "ushort", 1},
      {"ushort2", "ushort", 2},
      {"ushort3", "ushort", 3},
      {"unsigned int", "uint", 1},
      {"unsigned", "uint", 1},
      {"uint32_t", "uint", 1},
      {"unsigned short", "ushort", 1},
      {"uint16_t", "ushort", 1},
      {"vec<uint, 2>", "uint", 2},
      {"vec<uint, 3>", "uint", 3},
      {"vec<ushort, 2>", "ushort", 2},
      {"vec<ushort, 3>", "ushort", 3},
  };
  for (const auto& t : kTypes) {
    if (type == t.text) {
      *element = t.element;
      *components = t.n;
      return true;
    }
  }
  return false;
}

bool is_texture_type(const std::string& type) {
  return type.rfind("texture", 0) == 0 || type.rfind("depth", 0) == 0 || type.rfind("metal::texture", 0) == 0 ||
         type.rfind("metal::depth", 0) == 0;
}

// The texture types the runtime supports, by their MSL names.
const std::pair<const char*, TextureShape> kTextureShapes[] = {{"texture1d", TextureShape::Tex1D},
                                                               {"texture1d_array", TextureShape::Tex1DArray},
                                                               {"texture2d", TextureShape::Tex2D},
                                                               {"texture2d_array", TextureShape::Tex2DArray},
                                                               {"texture3d", TextureShape::Tex3D},
                                                               {"texturecube", TextureShape::Cube},
                                                               {"texturecube_array", TextureShape::CubeArray},
                                                               {"texture_buffer", TextureShape::Buffer}};

std::string trim_type(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  if (s.rfind("metal::", 0) == 0) s = s.substr(7);
  if (s.rfind("const ", 0) == 0) s = trim_type(s.substr(6));
  return s;
}

// "texture2d<float, access::read>" -> its name ("texture2d"), shape, element and access.
TextureArgType parse_texture_type(const std::string& type) {
  TextureArgType t;
  auto lt = type.find('<');
  t.name = trim_type(type.substr(0, lt));
  std::string access;
  if (lt != std::string::npos) {
    auto gt = type.rfind('>');
    std::string inner = type.substr(lt + 1, gt == std::string::npos ? std::string::npos : gt - lt - 1);
    auto comma = inner.find(',');
    t.element = trim_type(inner.substr(0, comma));
    if (comma != std::string::npos) {
      // `texture2d<float, access::read_write, memory_coherence_device>`: the access is the second.
      auto next = inner.find(',', comma + 1);
      access = trim_type(inner.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1));
    }
  }
  for (const auto& [name, shape] : kTextureShapes)
    if (t.name == name) t.shape = shape;
  t.supported = t.name.rfind("texture", 0) == 0 && t.name.find("_ms") == std::string::npos;
  const std::string& e = t.element;
  t.sample_type = e == "float" || e == "half" || e == "bfloat"   ? "float"
                  : e == "uint" || e == "ushort" || e == "uchar" ? "uint"
                  : e == "int" || e == "short" || e == "char"    ? "int"
                                                                 : e;
  t.written =
      access == "access::write" || access == "access::read_write" || access == "write" || access == "read_write";
  return t;
}

}  // namespace

const char* texture_shape_name(TextureShape shape) {
  for (const auto& [name, s] : kTextureShapes)
    if (s == shape) return name;
  return "?";
}

bool is_address_space(const Token& t) {
  return t.kind == TokenKind::Identifier &&
         (t.text == "device" || t.text == "constant" || t.text == "threadgroup" || t.text == "thread");
}

std::string cxx_type_text(const std::vector<Token>& type_tokens) {
  bool has_const = false;
  for (const Token& t : type_tokens) has_const = has_const || t.is_ident("const");
  std::string out;
  for (const Token& t : type_tokens) {
    std::string text = t.text;
    // No-alias promises say nothing about the type (and would stop `T&` matching `T&` in the wrappers).
    if (t.is_ident("__restrict") || t.is_ident("__restrict__") || t.is_ident("restrict")) continue;
    if (t.is_ident("coherent")) continue;  // MSL 3.2 `coherent device T*`: no part of the C++ type
    if (is_address_space(t)) {
      if (t.text != "constant" || has_const) continue;
      text = "const";
      has_const = true;
    }
    // A space only between two words, and after a comma: "const float*", "vec<float, 4>".
    if (!out.empty() && ((word_char(out.back()) && word_char(text[0])) || out.back() == ',')) out += ' ';
    out += text;
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> split_params(const std::vector<Token>& toks, const Structure& st, size_t open,
                                                    size_t close) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = open + 1;
  int angle = 0;
  for (size_t i = open + 1; i < close; ++i) {
    const Token& t = toks[i];
    if (t.is_punct("(") || t.is_punct("[") || t.is_punct("[[") || t.is_punct("{")) {
      i = st.match[i];
      continue;
    }
    if (t.is_punct("<")) ++angle;
    if (t.is_punct(">") && angle > 0) --angle;
    if (t.is_punct(">>")) angle = angle > 1 ? angle - 2 : 0;
    if (t.is_punct(",") && angle == 0) {
      out.emplace_back(start, i);
      start = i + 1;
    }
  }
  if (start < close) out.emplace_back(start, close);
  // `(void)` declares no parameters.
  if (out.size() == 1 && out[0].second == out[0].first + 1 && toks[out[0].first].is_ident("void")) out.clear();
  return out;
}

ParsedParam parse_kernel_param(const std::vector<Token>& toks, const Structure& st, size_t begin, size_t end) {
  ParsedParam p;
  p.begin = begin;
  p.end = end;
  p.where = toks[begin].location();
  std::vector<Attribute> attrs;
  std::vector<Token> rest;
  for (size_t i = begin; i < end; ++i) {
    if (toks[i].is_punct("[[")) {
      std::vector<Attribute> a = parse_attributes(toks, i, st.match[i]);
      attrs.insert(attrs.end(), a.begin(), a.end());
      i = st.match[i];
      continue;
    }
    rest.push_back(toks[i]);
  }
  KernelArg& arg = p.arg;
  arg.line = p.where.line;
  // An array declarator (`constant int strides[2]`, `device float m[4][4]`) declares a pointer
  // to its element, as in C++: a buffer like `constant int* strides`.
  std::vector<std::vector<Token>> dims;
  while (rest.size() >= 3 && rest.back().is_punct("]")) {
    size_t open = rest.size() - 1;
    int depth = 0;
    while (open-- > 0) {
      if (rest[open].is_punct("]"))
        ++depth;
      else if (rest[open].is_punct("[") && depth-- == 0)
        break;
    }
    if (open == static_cast<size_t>(-1) || open == 0) break;
    dims.insert(dims.begin(), std::vector<Token>(rest.begin() + open + 1, rest.end() - 1));
    rest.resize(open);
  }
  // The name is the last identifier when something precedes it (`uint` alone is unnamed).
  std::vector<Token> type = rest;
  if (rest.size() >= 2 && rest.back().kind == TokenKind::Identifier && !is_address_space(rest.back()) &&
      !rest.back().is_ident("const")) {
    arg.name = rest.back().text;
    arg.line = rest.back().line;
    p.where = rest.back().location();
    type.pop_back();
  }
  std::string shown = arg.name.empty() ? std::string("parameter") : "parameter '" + arg.name + "'";
  int angle = 0;
  bool seen_indirection = false;
  std::vector<Token> element;
  for (const Token& t : type) {
    if (t.is_punct("<")) ++angle;
    if (t.is_punct(">")) --angle;
    if (angle == 0 && is_address_space(t)) {
      arg.space = t.text == "device"     ? AddressSpace::Device
                  : t.text == "constant" ? AddressSpace::Constant
                  : t.text == "thread"   ? AddressSpace::Thread
                                         : AddressSpace::Threadgroup;
      continue;
    }
    if (angle == 0 && (t.is_punct("*") || t.is_punct("&"))) {
      if (!seen_indirection) arg.is_reference = t.is_punct("&");
      seen_indirection = true;
      continue;
    }
    if (angle == 0 && (t.is_ident("const") || t.is_ident("volatile") || t.is_ident("restrict") ||
                       t.is_ident("__restrict") || t.is_ident("__restrict__") || t.is_ident("coherent"))) {
      if (t.is_ident("const") && !seen_indirection) arg.is_const = true;
      continue;
    }
    if (!seen_indirection) element.push_back(t);
  }
  if (arg.space == AddressSpace::Constant) arg.is_const = true;
  arg.type = cxx_type_text(type);
  arg.element_type = cxx_type_text(element);
  if (!dims.empty()) {
    if (seen_indirection) fail(p.where, "kernel " + shown + ": an array of pointers or references cannot be bound");
    seen_indirection = true;
    std::string inner;
    for (size_t d = 1; d < dims.size(); ++d) inner += "[" + spell(dims[d]) + "]";
    arg.type = inner.empty() ? arg.type + "*" : arg.type + "(*)" + inner;
    arg.element_type += inner;
  }
  if (arg.type.empty()) fail(p.where, "expected a parameter type");

  // Attributes: exactly one of buffer/threadgroup/texture/sampler/builtin, plus function_constant.
  const Attribute* kind_attr = nullptr;
  for (const Attribute& a : attrs) {
    if (a.name == "function_constant") {
      if (a.args.size() != 1 || a.args[0].kind != TokenKind::Identifier) {
        fail(a.where, "function_constant on a parameter expects the name of a bool function constant");
      }
      p.condition = a.args[0].text;
      continue;
    }
    bool known = a.name == "buffer" || a.name == "threadgroup" || a.name == "texture" || a.name == "sampler" ||
                 find_builtin(a.name) != nullptr;
    if (!known) fail(a.where, "unknown attribute '" + a.name + "' on kernel " + shown);
    if (kind_attr)
      fail(a.where, "attributes '" + kind_attr->name + "' and '" + a.name + "' conflict on kernel " + shown);
    kind_attr = &a;
  }
  bool indirect = seen_indirection;
  if (kind_attr && find_builtin(kind_attr->name)) {
    const BuiltinSpec* b = find_builtin(kind_attr->name);
    arg.kind = ArgKind::Builtin;
    arg.builtin = b->kind;
    std::string plain = cxx_type_text(element);
    if (indirect || arg.space != AddressSpace::None || !builtin_type(plain, &arg.element_type, &arg.components) ||
        (!b->vector_ok && arg.components != 1)) {
      fail(p.where, "type '" + arg.type + "' is not valid for attribute '" + b->name + "' (expected " +
                        (b->vector_ok ? "uint, uint2, uint3, ushort, ushort2 or ushort3" : "uint or ushort") + ")");
    }
    return p;
  }
  if (kind_attr) {
    p.explicit_index = true;
    arg.index = attribute_int(*kind_attr);
    const std::string& k = kind_attr->name;
    arg.kind = k == "buffer"        ? ArgKind::Buffer
               : k == "threadgroup" ? ArgKind::Threadgroup
               : k == "texture"     ? ArgKind::Texture
                                    : ArgKind::Sampler;
  } else if (indirect && (arg.space == AddressSpace::Device || arg.space == AddressSpace::Constant)) {
    arg.kind = ArgKind::Buffer;
  } else if (indirect && arg.space == AddressSpace::Threadgroup) {
    arg.kind = ArgKind::Threadgroup;
  } else if (!indirect && is_texture_type(arg.element_type)) {
    arg.kind = ArgKind::Texture;
  } else if (!indirect && (arg.element_type == "sampler" || arg.element_type == "metal::sampler")) {
    arg.kind = ArgKind::Sampler;
  } else if (!indirect) {
    fail(p.where, "kernel " + shown + " of type '" + arg.type +
                      "' needs an attribute; pass scalars and structs as 'constant T& name [[buffer(n)]]'");
  } else {
    fail(p.where, "kernel " + shown + " of type '" + arg.type +
                      "' must point to the device, constant or threadgroup address space");
  }
  if (arg.kind == ArgKind::Texture) arg.texture = parse_texture_type(arg.type);
  if (arg.kind == ArgKind::Threadgroup && !(indirect && arg.space == AddressSpace::Threadgroup)) {
    fail(p.where, "[[threadgroup(n)]] needs a 'threadgroup T*' parameter, not '" + arg.type + "'");
  }
  if (arg.kind == ArgKind::Buffer && indirect && arg.space != AddressSpace::Device &&
      arg.space != AddressSpace::Constant) {
    fail(p.where, "[[buffer(n)]] " + shown + " must point to the device or constant address space");
  }
  if ((arg.kind == ArgKind::Texture || arg.kind == ArgKind::Sampler) && !indirect &&
      (arg.type.rfind("array<", 0) == 0 || arg.type.rfind("metal::array<", 0) == 0 ||
       arg.type.rfind("array_ref<", 0) == 0)) {
    fail(p.where, "kernel " + shown + " of type '" + arg.type +
                      "': arrays of textures or samplers as kernel arguments are not supported yet; pass each "
                      "one as an argument of its own (or in an argument buffer)");
  }
  return p;
}

}  // namespace metallic::msl
