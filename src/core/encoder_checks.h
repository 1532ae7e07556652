// What every encoding call checks first, for the compute and blit encoders alike.
#pragma once

#include <string>

#include "metallic/command.h"
#include "metallic/error.h"

namespace metallic {

// Throws ValidationError naming `what` if the encoder has ended or its command buffer was
// already committed.
inline void check_encoder_open(bool ended, const CommandBuffer& buffer, const char* what) {
  if (ended) throw ValidationError(std::string(what) + " after end_encoding(): make a new encoder");
  if (buffer.status() != CommandBufferStatus::NotEnqueued)
    throw ValidationError(std::string(what) + " on an encoder whose command buffer was already committed");
}

}  // namespace metallic
