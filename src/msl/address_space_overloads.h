// MSL functions may be overloaded on the address space of a pointer or reference parameter
// (`sum(const device float*)` next to `sum(const threadgroup float*)`, MSL.md §2). Generated
// code erases address spaces, which would make such overloads one signature defined twice.
//
// This pass, run on the tokens before everything else, renames each overload of such a set
// (`sum__pm_as_d`, `sum__pm_as_g`) and adds a dispatcher with the erased signature after the
// last one. The dispatcher asks the runtime where its arguments point (metal_address_space.h)
// and calls the overload written for that address space, so callers need no change.
// Definitions that are the same function once address spaces are erased (same signature and
// body: `operator[]` written for `thread`, `device` and `threadgroup` this, an index helper
// written for `device` and `constant` pointers) are merged into one first. Overloads that differ
// only between `device` and `constant` with different bodies cannot be told apart at run time and
// are refused with a message, as are member functions that differ only in the address space of
// `this` with different bodies.
#pragma once

#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// Returns whether dispatchers were added: the CPU backend then records the bounds the
// run-time checks need (the thread's stack, the group's threadgroup memory).
bool resolve_address_space_overloads(std::vector<Token>& toks);

}  // namespace metallic::msl
