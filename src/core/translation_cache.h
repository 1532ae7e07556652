// The front end's results on disk: a library created again from the same source and options
// (in this process or a later one) takes its translation from the cache instead of running
// the front end, so a warm new process goes from the MSL text to the compiled object without
// preprocessing or rewriting anything.
//
// The key covers everything a translation depends on: the source, every front-end option, the
// runtime library's files (runtime_files.h), pymetallic's version and the translator itself
// (the binary it is compiled into: path, size, modification time, so a rebuilt development
// tree never trusts an older build's entries). Files read through #include are not in the
// key: the entry lists them with their content hashes (and the include candidates that were
// absent), and a hit whose files differ now is a miss. The payload is checksummed by the disk
// cache; an entry that does not decode is a miss. Translation errors are not cached.
//
// PYMETALLIC_TRANSLATION_CACHE=0 turns it off (every library runs the front end), and so do
// PYMETALLIC_DEBUG_FISSION=1 and PYMETALLIC_FRONT_END_TIMES=1, whose output comes from the
// front end running. PYMETALLIC_CPU_LANE_LOOPS, which the front end reads, is in the key.
#pragma once

#include <optional>
#include <string>

#include "msl/translation.h"

namespace metallic::translation_cache {

// The translation of `source` with `options`: from the cache when a valid entry exists,
// else from msl::translate (stored for next time). Throws what msl::translate throws.
msl::TranslatedSource translate(const std::string& source, const msl::Options& options);

// For tests: the bytes stored for a translation and their decoding (nullopt: malformed).
std::string encode(const msl::TranslatedSource& translated);
std::optional<msl::TranslatedSource> decode(const std::string& bytes);

// Whether the entry's input files are still as they were (each hash matches, each absent
// candidate still absent).
bool inputs_unchanged(const msl::TranslatedSource& translated);

}  // namespace metallic::translation_cache
