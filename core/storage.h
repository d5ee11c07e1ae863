// Storage: a refcounted block of device memory that tensors view.
//
// CPU blocks are 64-byte aligned. A storage may also wrap memory it does not own (a memory-mapped
// safetensors file), in which case `keepalive` holds whatever keeps that memory valid.
// `version` counts in-place writes so autograd can tell when a tensor saved for backward changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace ssm {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  bool owned = true;                  // free `data` on destruction
  std::shared_ptr<void> keepalive;    // for non-owned memory
  uint32_t version = 0;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  // Uninitialised memory of `nbytes` on `device`.
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  // Wraps memory owned by someone else; `keepalive` is held until the storage dies.
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, Device device,
                                       std::shared_ptr<void> keepalive);
};

// Device memory primitives (CUDA ones throw ssm::Error when the build has no CUDA backend).
namespace device_mem {
void* cuda_malloc(size_t nbytes, int device);
void cuda_free(void* p, int device);
void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);
}  // namespace device_mem

}  // namespace ssm
