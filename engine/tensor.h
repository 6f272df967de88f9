// Tensor: a contiguous array on the CPU or a CUDA device, row-major (NCHW) unless blocked (see
// Layout), float32 by default.
// float64 exists on the CPU only, so gradients can be checked by finite differences in double.
// Storage is reference counted; reshape() and view() share it. Nothing copies between devices
// unless asked to with to().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"

namespace steady {

enum class Device : uint8_t { CPU, CUDA };
enum class DType : uint8_t { F32, F64 };
using Shape = std::vector<int64_t>;

// How a tensor's elements lie in memory. Plain: row-major (NCHW). Blocked16: [N, C/16, H, W, 16],
// oneDNN's nChw16c, the layout its fastest CPU convolutions read and write; 4-D, CPU float32 and
// C a multiple of 16 only. Shapes stay logical ([N, C, H, W]) in both. Only the ops that know the
// layout read a blocked tensor's memory (data_any_layout()); data() refuses one, so a blocked
// tensor reaching any other op is a clear error, never a misread one (engine/layout.h).
enum class Layout : uint8_t { Plain, Blocked16 };
constexpr int64_t kBlock = 16;

const char* device_name(Device d);
const char* dtype_name(DType t);
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
inline size_t dtype_size(DType t) { return t == DType::F64 ? 8 : 4; }

// Raw bytes owned by one device's allocator (the CUDA one caches freed blocks).
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor; defined() is false

  static Tensor empty(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor empty_blocked(const Shape& shape);  // [N, C, H, W] in Blocked16, CPU float32
  static Tensor empty_like(const Tensor& t);        // same shape, device, dtype and layout
  static Tensor zeros(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, double value, Device device = Device::CPU,
                     DType dtype = DType::F32);
  // Copies host values in (converted to dtype) and moves them to device.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::CPU);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            Device device = Device::CPU, DType dtype = DType::F64);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  int64_t size(int d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return numel() * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::CPU; }
  bool is_cuda() const { return device() == Device::CUDA; }
  Layout layout() const { return layout_; }
  bool blocked() const { return layout_ == Layout::Blocked16; }
  std::string str() const;  // "f32[2, 3, 8, 8] on cpu", for error messages

  // Typed access to the first element; throws when T does not match dtype() or the tensor is
  // blocked. data_any_layout() is for the kernels that handle both layouts.
  template <class T> T* data();
  template <class T> const T* data() const;
  template <class T> T* data_any_layout();
  template <class T> const T* data_any_layout() const;
  void* raw() { return static_cast<char*>(storage_->ptr) + offset_ * dtype_size(dtype_); }
  const void* raw() const {
    return static_cast<const char*>(storage_->ptr) + offset_ * dtype_size(dtype_);
  }

  Tensor reshape(const Shape& shape) const;                // shares storage; numel must match
  Tensor view(int64_t offset, const Shape& shape) const;   // a contiguous slice of this storage
  Tensor to(Device device) const;                          // copy unless already there
  Tensor to(DType dtype) const;                            // convert (CPU only for F64)
  Tensor clone() const;
  bool sole_owner() const { return storage_.use_count() == 1; }  // no other tensor shares storage
  void copy_from(const Tensor& src);                       // same shape and dtype, any devices
  std::vector<double> to_host() const;                     // any device, dtype and layout; NCHW order
  double item() const;                                     // the single element

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::F32;
  Layout layout_ = Layout::Plain;
};

// Shape checks shared by all ops: they name the op and the shapes involved.
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_dim(const char* op, const Tensor& t, int dim, const char* what);

}  // namespace steady
