// The CUDA driver API, loaded at run time from libcuda.so.1 so that one build runs on
// machines with and without NVIDIA GPUs. Only what pymetallic calls is declared, with
// the driver's own names, types and numbers (cuda.h), so NVIDIA's documentation applies.
#pragma once

#include <cstddef>
#include <string>

namespace metallic::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphExec = struct CUgraphExec_st*;
using CUhostFn = void (*)(void* user_data);
using CUgraphNode = struct CUgraphNode_st*;

// cuda.h's CUDA_KERNEL_NODE_PARAMS_v2.
struct CudaKernelNodeParams {
  CUfunction func;
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void** kernelParams;
  void** extra;
  void* kern;
  CUcontext ctx;
};

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NOT_READY = 600;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_INTEGRATED = 18;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
constexpr int CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DEFAULT = 0;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
// Several devices: peer copies, host memory mapped into every context, stream memory operations.
constexpr CUresult CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED = 704;
constexpr unsigned CU_MEMHOSTALLOC_PORTABLE = 0x1;
constexpr unsigned CU_MEMHOSTALLOC_DEVICEMAP = 0x2;
constexpr unsigned CU_STREAM_WAIT_VALUE_GEQ = 0x0;
constexpr unsigned CU_STREAM_WRITE_VALUE_DEFAULT = 0x0;
constexpr int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;
constexpr unsigned CU_MEMORYTYPE_HOST = 1;

// X(name, return, parameters): every driver entry point we use, by its exported symbol.
#define METALLIC_CUDA_DRIVER_FUNCTIONS(X)                                                                             \
  X(cuInit, CUresult, (unsigned flags))                                                                               \
  X(cuDriverGetVersion, CUresult, (int* version))                                                                     \
  X(cuDeviceGetCount, CUresult, (int* count))                                                                         \
  X(cuDeviceGet, CUresult, (CUdevice * device, int ordinal))                                                          \
  X(cuDeviceGetName, CUresult, (char* name, int length, CUdevice device))                                             \
  X(cuDeviceGetAttribute, CUresult, (int* value, int attribute, CUdevice device))                                     \
  X(cuDeviceTotalMem_v2, CUresult, (size_t* bytes, CUdevice device))                                                  \
  X(cuDevicePrimaryCtxRetain, CUresult, (CUcontext * context, CUdevice device))                                       \
  X(cuCtxSetCurrent, CUresult, (CUcontext context))                                                                   \
  X(cuMemAlloc_v2, CUresult, (CUdeviceptr * pointer, size_t bytes))                                                   \
  X(cuMemFree_v2, CUresult, (CUdeviceptr pointer))                                                                    \
  X(cuMemHostAlloc, CUresult, (void** pointer, size_t bytes, unsigned flags))                                         \
  X(cuMemFreeHost, CUresult, (void* pointer))                                                                         \
  X(cuMemcpyHtoD_v2, CUresult, (CUdeviceptr dst, const void* src, size_t bytes))                                      \
  X(cuMemcpyDtoH_v2, CUresult, (void* dst, CUdeviceptr src, size_t bytes))                                            \
  X(cuMemcpyHtoDAsync_v2, CUresult, (CUdeviceptr dst, const void* src, size_t bytes, CUstream s))                     \
  X(cuMemcpyDtoHAsync_v2, CUresult, (void* dst, CUdeviceptr src, size_t bytes, CUstream s))                           \
  X(cuMemcpyDtoDAsync_v2, CUresult, (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s))                     \
  X(cuMemsetD8Async, CUresult, (CUdeviceptr dst, unsigned char value, size_t count, CUstream s))                      \
  X(cuMemcpyPeerAsync, CUresult,                                                                                      \
    (CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t bytes, CUstream s))               \
  X(cuDeviceCanAccessPeer, CUresult, (int* can_access, CUdevice device, CUdevice peer))                               \
  X(cuCtxEnablePeerAccess, CUresult, (CUcontext peer, unsigned flags))                                                \
  X(cuMemHostGetDevicePointer_v2, CUresult, (CUdeviceptr * pointer, void* host, unsigned flags))                      \
  X(cuModuleLoadData, CUresult, (CUmodule * module, const void* image))                                               \
  X(cuModuleUnload, CUresult, (CUmodule module))                                                                      \
  X(cuModuleGetFunction, CUresult, (CUfunction * function, CUmodule module, const char* name))                        \
  X(cuModuleGetGlobal_v2, CUresult, (CUdeviceptr * pointer, size_t* bytes, CUmodule m, const char* name))             \
  X(cuFuncGetAttribute, CUresult, (int* value, int attribute, CUfunction function))                                   \
  X(cuFuncSetAttribute, CUresult, (CUfunction function, int attribute, int value))                                    \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor, CUresult,                                                            \
    (int* blocks, CUfunction function, int block_size, size_t dynamic_shared))                                        \
  X(cuLaunchKernel, CUresult,                                                                                         \
    (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,     \
     CUstream s, void** params, void** extra))                                                                        \
  X(cuLaunchHostFunc, CUresult, (CUstream s, CUhostFn fn, void* user_data))                                           \
  X(cuStreamCreate, CUresult, (CUstream * stream, unsigned flags))                                                    \
  X(cuStreamDestroy_v2, CUresult, (CUstream stream))                                                                  \
  X(cuStreamSynchronize, CUresult, (CUstream stream))                                                                 \
  X(cuStreamQuery, CUresult, (CUstream stream))                                                                       \
  X(cuGraphCreate, CUresult, (CUgraph * graph, unsigned flags))                                                       \
  X(cuGraphAddKernelNode_v2, CUresult,                                                                                \
    (CUgraphNode * node, CUgraph graph, const CUgraphNode* deps, size_t count, const CudaKernelNodeParams* p))        \
  X(cuGraphInstantiateWithFlags, CUresult, (CUgraphExec * exec, CUgraph graph, unsigned long long flags))             \
  X(cuGraphLaunch, CUresult, (CUgraphExec exec, CUstream stream))                                                     \
  X(cuGraphExecKernelNodeSetParams_v2, CUresult, (CUgraphExec exec, CUgraphNode node, const CudaKernelNodeParams* p)) \
  X(cuGraphExecDestroy, CUresult, (CUgraphExec exec))                                                                 \
  X(cuGraphDestroy, CUresult, (CUgraph graph))                                                                        \
  X(cuEventCreate, CUresult, (CUevent * event, unsigned flags))                                                       \
  X(cuEventDestroy_v2, CUresult, (CUevent event))                                                                     \
  X(cuEventRecord, CUresult, (CUevent event, CUstream stream))                                                        \
  X(cuEventQuery, CUresult, (CUevent event))                                                                          \
  X(cuEventSynchronize, CUresult, (CUevent event))                                                                    \
  X(cuStreamWaitEvent, CUresult, (CUstream stream, CUevent event, unsigned flags))                                    \
  X(cuPointerGetAttribute, CUresult, (void* data, int attribute, CUdeviceptr pointer))                                \
  X(cuEventElapsedTime, CUresult, (float* ms, CUevent start, CUevent end))                                            \
  X(cuGetErrorName, CUresult, (CUresult error, const char** name))                                                    \
  X(cuGetErrorString, CUresult, (CUresult error, const char** text))

struct DriverApi {
#define METALLIC_DECLARE(name, ret, params) ret(*name) params = nullptr;
  METALLIC_CUDA_DRIVER_FUNCTIONS(METALLIC_DECLARE)
#undef METALLIC_DECLARE
  // Optional (null when the driver lacks them): stream memory operations, for shared events.
  // The _v2 symbols where the driver has them (CUDA 11.7+), else the first versions.
  CUresult (*cuStreamWaitValue64)(CUstream s, CUdeviceptr address, unsigned long long value, unsigned flags) = nullptr;
  CUresult (*cuStreamWriteValue64)(CUstream s, CUdeviceptr address, unsigned long long value, unsigned flags) = nullptr;
  int version = 0;
};

// The loaded driver, or nullptr when this machine has none (the reason in *why).
const DriverApi* driver(std::string* why = nullptr);

// "CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)"
std::string describe(CUresult result);

// Throws metallic::Error "<what>: <describe(result)>" unless result is CUDA_SUCCESS.
void check(CUresult result, const char* what);

}  // namespace metallic::cuda
