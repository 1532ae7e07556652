// Device::newBufferWithBytesNoCopy on the CPU device: memory another library owns, used in
// place, its owner released with the last user; exports of untouched buffers return at once.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "metallic/metallic.h"

using namespace metallic;

namespace {

std::shared_ptr<Device> cpu() {
  for (auto& d : Device::all())
    if (d->kind() == "cpu") return d;
  return nullptr;
}

}  // namespace

TEST(ForeignBuffers, CpuMemoryIsUsedInPlaceAndItsOwnerReleasedLast) {
  auto device = cpu();
  ASSERT_TRUE(device);
  auto storage = std::make_shared<std::vector<float>>(16, 2.5f);
  std::weak_ptr<std::vector<float>> watch = storage;
  auto address = reinterpret_cast<uintptr_t>(storage->data());
  auto buffer = device->newBufferWithBytesNoCopy(address, 16 * sizeof(float), storage);
  storage.reset();
  EXPECT_FALSE(watch.expired());  // the buffer holds the owner
  EXPECT_TRUE(buffer->foreign());
  EXPECT_EQ(buffer->length(), 16 * sizeof(float));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->contents()), address);
  EXPECT_EQ(buffer->gpuAddress(), address);
  static_cast<float*>(buffer->contents())[3] = 7.0f;
  EXPECT_EQ(watch.lock()->at(3), 7.0f);
  buffer->prepareExport(0);  // no work uses it: returns at once
  buffer.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(ForeignBuffers, NullAndEmptyMemoryAreRefused) {
  auto device = cpu();
  ASSERT_TRUE(device);
  float x = 0;
  EXPECT_THROW(device->newBufferWithBytesNoCopy(0, 4, nullptr), ValidationError);
  EXPECT_THROW(device->newBufferWithBytesNoCopy(reinterpret_cast<uintptr_t>(&x), 0, nullptr), ValidationError);
  auto plain = device->newBuffer(8);
  EXPECT_FALSE(plain->foreign());
}
