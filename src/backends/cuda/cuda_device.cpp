// Placeholder enumerator until the CUDA backend lands: no CUDA devices.
#include "core/backend.h"

namespace metallic::backend {
std::vector<std::shared_ptr<DeviceImpl>> enumerate_cuda_devices() { return {}; }
}  // namespace metallic::backend
