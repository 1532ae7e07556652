#include "core/translation_cache.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/disk_cache.h"
#include "core/hash.h"
#include "core/runtime_files.h"
#include "metallic/metallic.h"

namespace metallic::translation_cache {

namespace {

// Bumped whenever the layout below changes (it is also in the key).
constexpr uint64_t kFormat = 2;

#if defined(__GLIBCXX__) && defined(__x86_64__) && !defined(_GLIBCXX_DEBUG)
// A field added to these structs must be added to encode/decode too (and kFormat bumped);
// these sizes catch the addition where the layout is known.
static_assert(sizeof(msl::TextureArgType) == 112, "update translation_cache encode/decode");
static_assert(sizeof(msl::KernelArg) == 240, "update translation_cache encode/decode");
static_assert(sizeof(msl::KernelInfo) == 296, "update translation_cache encode/decode");
static_assert(sizeof(msl::FunctionConstantInfo) == 80, "update translation_cache encode/decode");
static_assert(sizeof(msl::TranslatedSource) == 112, "update translation_cache encode/decode");
static_assert(sizeof(msl::InputFile) == 64, "update translation_cache encode/decode");
static_assert(sizeof(msl::Options) == 176, "update translation_key");
#endif

class Writer {
 public:
  void u(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void i(int64_t v) { u(static_cast<uint64_t>(v)); }
  void b(bool v) { u(v ? 1 : 0); }
  void s(const std::string& v) {
    u(v.size());
    out_ += v;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Every read is bounds-checked; a malformed payload sets `bad` and reads zeros.
class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  uint64_t u() {
    if (bad || in_.size() - pos_ < 8) {
      bad = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  int64_t i() { return static_cast<int64_t>(u()); }
  int i32() {
    int64_t v = i();
    if (v < INT32_MIN || v > INT32_MAX) bad = true;
    return bad ? 0 : static_cast<int>(v);
  }
  bool b() {
    uint64_t v = u();
    if (v > 1) bad = true;
    return v == 1;
  }
  std::string s() {
    uint64_t n = u();
    if (bad || n > in_.size() - pos_) {
      bad = true;
      return {};
    }
    std::string v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A count of items still to read (each at least 8 bytes): a damaged count cannot allocate.
  size_t count() {
    uint64_t n = u();
    if (bad || n > (in_.size() - pos_) / 8) {
      bad = true;
      return 0;
    }
    return static_cast<size_t>(n);
  }
  template <typename E> E e(int last) {
    int64_t v = i();
    if (v < 0 || v > last) bad = true;
    return bad ? E{} : static_cast<E>(v);
  }
  bool done() const { return !bad && pos_ == in_.size(); }
  bool bad = false;

 private:
  const std::string& in_;
  size_t pos_ = 0;
};

void put(Writer& w, const msl::KernelArg& a) {
  w.s(a.name);
  w.s(a.type);
  w.s(a.element_type);
  w.i(static_cast<int>(a.kind));
  w.i(static_cast<int>(a.space));
  w.b(a.is_reference);
  w.b(a.is_const);
  w.i(a.index);
  w.i(static_cast<int>(a.builtin));
  w.i(a.components);
  w.i(a.line);
  w.b(a.dependent_type);
  w.b(a.used);
  w.s(a.texture.name);
  w.i(static_cast<int>(a.texture.shape));
  w.b(a.texture.supported);
  w.s(a.texture.element);
  w.s(a.texture.sample_type);
  w.b(a.texture.written);
}

void get(Reader& r, msl::KernelArg& a) {
  a.name = r.s();
  a.type = r.s();
  a.element_type = r.s();
  a.kind = r.e<msl::ArgKind>(static_cast<int>(msl::ArgKind::Builtin));
  a.space = r.e<msl::AddressSpace>(static_cast<int>(msl::AddressSpace::Thread));
  a.is_reference = r.b();
  a.is_const = r.b();
  a.index = r.i32();
  a.builtin = r.e<msl::BuiltinKind>(static_cast<int>(msl::BuiltinKind::GridSize));
  a.components = r.i32();
  a.line = r.i32();
  a.dependent_type = r.b();
  a.used = r.b();
  a.texture.name = r.s();
  a.texture.shape = r.e<msl::TextureShape>(static_cast<int>(msl::TextureShape::Buffer));
  a.texture.supported = r.b();
  a.texture.element = r.s();
  a.texture.sample_type = r.s();
  a.texture.written = r.b();
}

void put(Writer& w, const msl::KernelInfo& k) {
  w.s(k.name);
  w.s(k.call_name);
  w.u(k.args.size());
  for (const auto& a : k.args) put(w, a);
  w.i(k.max_total_threads_per_threadgroup);
  w.s(k.max_threads_expression);
  w.b(k.uses_threadgroup_barrier);
  w.b(k.uses_simdgroup_functions);
  w.s(k.fission_call_name);
  w.b(k.fission_retires);
  w.s(k.fast_division_call_name);
  w.u(k.fast_divisors.size());
  for (const auto& d : k.fast_divisors) {
    w.u(d.first);
    w.s(d.second);
  }
  w.u(k.fast_division_splits.size());
  for (const auto& s : k.fast_division_splits) {
    w.u(s.divisor_arg);
    w.s(s.divisor_member);
    w.i(s.cmin);
    w.i(s.cmax);
    w.u(s.terms.size());
    for (const auto& t : s.terms) {
      w.i(t.sign);
      w.u(t.arg);
      w.s(t.member);
    }
  }
  w.s(k.file);
  w.i(k.line);
}

void get(Reader& r, msl::KernelInfo& k) {
  k.name = r.s();
  k.call_name = r.s();
  k.args.resize(r.count());
  for (auto& a : k.args) get(r, a);
  k.max_total_threads_per_threadgroup = r.i32();
  k.max_threads_expression = r.s();
  k.uses_threadgroup_barrier = r.b();
  k.uses_simdgroup_functions = r.b();
  k.fission_call_name = r.s();
  k.fission_retires = r.b();
  k.fast_division_call_name = r.s();
  k.fast_divisors.resize(r.count());
  for (auto& d : k.fast_divisors) {
    d.first = r.u();
    d.second = r.s();
  }
  k.fast_division_splits.resize(r.count());
  for (auto& s : k.fast_division_splits) {
    s.divisor_arg = r.u();
    s.divisor_member = r.s();
    s.cmin = static_cast<long long>(r.u());
    s.cmax = static_cast<long long>(r.u());
    s.terms.resize(r.count());
    for (auto& t : s.terms) {
      t.sign = r.i32();
      t.arg = r.u();
      t.member = r.s();
    }
  }
  k.file = r.s();
  k.line = r.i32();
}

// Identifies the translator: the binary this code is in (a rebuilt tree has a new one).
const std::string& translator_identity() {
  static const std::string identity = [] {
    Dl_info info{};
    std::string id = version();
    if (::dladdr(reinterpret_cast<void*>(&translator_identity), &info) && info.dli_fname) {
      struct stat st;
      if (::stat(info.dli_fname, &st) == 0)
        return id + "\n" + info.dli_fname + ":" + std::to_string(static_cast<long long>(st.st_size)) + ":" +
               std::to_string(static_cast<long long>(st.st_mtim.tv_sec)) + "." +
               std::to_string(static_cast<long long>(st.st_mtim.tv_nsec));
    }
    return std::string();  // unknown: no caching
  }();
  return identity;
}

std::string translation_key(const std::string& source, const msl::Options& o) {
  Writer w;
  w.u(kFormat);
  w.s(translator_identity());
  w.s(runtime_files_hash());
  w.s(o.filename);
  w.u(o.include_paths.size());
  for (const auto& p : o.include_paths) w.s(p);
  w.u(o.macros.size());
  for (const auto& [k, v] : o.macros) {
    w.s(k);
    w.s(v);
  }
  w.s(o.runtime_dir);
  w.i(o.language_version);
  w.b(o.fast_math);
  w.u(o.function_constants.size());
  for (const auto& [k, v] : o.function_constants) {
    w.s(k);
    w.s(v);
  }
  w.b(o.validation);
  // The environment the front end reads (barrier_fission.cpp).
  const char* lanes = std::getenv("PYMETALLIC_CPU_LANE_LOOPS");
  w.s(lanes ? lanes : "(unset)");
  w.s(source);
  return "msl-" + cache::hash_hex(w.take());
}

bool set_to(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::string(v) == value;
}

// Off by request, or while the front end is asked to explain itself (its messages come from
// running it).
bool enabled() {
  return !set_to("PYMETALLIC_TRANSLATION_CACHE", "0") && !set_to("PYMETALLIC_DEBUG_FISSION", "1") &&
         !set_to("PYMETALLIC_FRONT_END_TIMES", "1");
}

std::string file_bytes(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string encode(const msl::TranslatedSource& t) {
  Writer w;
  w.u(kFormat);
  w.s(t.code);
  w.u(t.kernels.size());
  for (const auto& k : t.kernels) put(w, k);
  w.u(t.function_constants.size());
  for (const auto& c : t.function_constants) {
    w.s(c.name);
    w.i(c.index);
    w.s(c.type);
    w.b(c.defined);
  }
  w.b(t.checks_address_spaces);
  w.b(t.validation);
  w.b(t.uses_logging);
  w.u(t.inputs.size());
  for (const auto& f : t.inputs) {
    w.s(f.path);
    w.s(f.hash);
  }
  return w.take();
}

std::optional<msl::TranslatedSource> decode(const std::string& bytes) {
  Reader r(bytes);
  if (r.u() != kFormat) return std::nullopt;
  msl::TranslatedSource t;
  t.code = r.s();
  t.kernels.resize(r.count());
  for (auto& k : t.kernels) get(r, k);
  t.function_constants.resize(r.count());
  for (auto& c : t.function_constants) {
    c.name = r.s();
    c.index = r.i32();
    c.type = r.s();
    c.defined = r.b();
  }
  t.checks_address_spaces = r.b();
  t.validation = r.b();
  t.uses_logging = r.b();
  t.inputs.resize(r.count());
  for (auto& f : t.inputs) {
    f.path = r.s();
    f.hash = r.s();
  }
  if (!r.done()) return std::nullopt;
  return t;
}

bool inputs_unchanged(const msl::TranslatedSource& t) {
  for (const auto& f : t.inputs) {
    struct stat st;
    bool exists = ::stat(f.path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    if (f.hash.empty()) {
      if (exists) return false;
      continue;
    }
    if (!exists) return false;
    bool ok = false;
    std::string text = file_bytes(f.path, &ok);
    if (!ok || cache::hash_hex(text) != f.hash) return false;
  }
  return true;
}

msl::TranslatedSource translate(const std::string& source, const msl::Options& options) {
  if (!enabled() || translator_identity().empty()) return msl::translate(source, options);
  std::string key = translation_key(source, options);
  // The cache is an optimisation: a folder that cannot be used means translating every time.
  const cache::DiskCache* disk = nullptr;
  try {
    static const cache::DiskCache shared("msl");
    disk = &shared;
  } catch (const std::exception&) {
    return msl::translate(source, options);
  }
  if (auto payload = disk->read(key, ".bin"))
    if (auto t = decode(*payload); t && inputs_unchanged(*t)) return std::move(*t);
  msl::TranslatedSource t = msl::translate(source, options);
  try {
    disk->write(key, ".bin", encode(t));
  } catch (const std::exception&) {
    // Not cached (a full disk, a read-only folder): the translation is still good.
  }
  return t;
}

}  // namespace metallic::translation_cache
