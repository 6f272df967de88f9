#include "engine/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <utility>

#include "engine/backend.h"
#include "engine/layout.h"

namespace steady {

const char* device_name(Device d) { return d == Device::CUDA ? "cuda" : "cpu"; }
const char* dtype_name(DType t) { return t == DType::F64 ? "f64" : "f32"; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Storage::Storage(size_t bytes_, Device device_) : bytes(bytes_), device(device_) {
  ptr = backend(device).alloc(bytes);
}
Storage::~Storage() {
  if (ptr) backend(device).free(ptr, bytes);
}

Tensor Tensor::empty(const Shape& shape, Device device, DType dtype) {
  // Checked before multiplying: a product that wraps around would allocate a tiny buffer.
  int64_t numel = 1;
  for (int64_t d : shape) {
    STEADY_CHECK(d >= 0, "tensor: negative dimension in ", shape_str(shape));
    STEADY_CHECK(d == 0 || numel <= (int64_t{1} << 56) / d, "tensor: ", shape_str(shape),
                 " is too large to allocate");
    numel *= d;
  }
  STEADY_CHECK(!(device == Device::CUDA && dtype == DType::F64),
               "tensor: f64 exists on the CPU only");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(std::max<size_t>(1, numel * dtype_size(dtype)), device);
  return t;
}

Tensor Tensor::empty_blocked(const Shape& shape) {
  STEADY_CHECK(shape.size() == 4 && shape[1] % kBlock == 0, "tensor: the blocked layout needs ",
               "[N, C, H, W] with C a multiple of ", kBlock, ", got ", shape_str(shape));
  Tensor t = empty(shape, Device::CPU, DType::F32);
  t.layout_ = Layout::Blocked16;
  return t;
}

Tensor Tensor::empty_like(const Tensor& t) {
  return t.blocked() ? empty_blocked(t.shape()) : empty(t.shape(), t.device(), t.dtype());
}

Tensor Tensor::zeros(const Shape& shape, Device device, DType dtype) {
  return full(shape, 0.0, device, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, Device device, DType dtype) {
  Tensor t = empty(shape, device, dtype);
  backend(device).fill(t, value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  STEADY_CHECK((int64_t)v.size() == shape_numel(shape), "from_vector: ", v.size(),
               " values for shape ", shape_str(shape));
  Tensor t = empty(shape, device, DType::F32);
  backend(device).copy(t.raw(), device, v.data(), Device::CPU, v.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& shape, Device device,
                           DType dtype) {
  STEADY_CHECK((int64_t)v.size() == shape_numel(shape), "from_vector: ", v.size(),
               " values for shape ", shape_str(shape));
  if (dtype == DType::F32) return from_vector(std::vector<float>(v.begin(), v.end()), shape, device);
  Tensor t = empty(shape, device, DType::F64);
  if (!v.empty()) backend(device).copy(t.raw(), device, v.data(), Device::CPU, v.size() * sizeof(double));
  return t;
}

int64_t Tensor::size(int d) const {
  int nd = dim();
  if (d < 0) d += nd;
  STEADY_CHECK(d >= 0 && d < nd, "tensor: dimension ", d, " out of range for ", shape_str(shape_));
  return shape_[d];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " on " + device_name(device()) +
         (blocked() ? " (blocked)" : "");
}

// data<T>(): the storage as T, after checking the tensor holds T (and, but for
// data_any_layout, that it is plain).
#define STEADY_TYPED_DATA(T, TYPE)                                                           \
  template <> const T* Tensor::data_any_layout<T>() const {                                   \
    STEADY_CHECK(defined() && dtype_ == TYPE, "tensor: asked for ", dtype_name(TYPE),         \
                 " data of ", str());                                                         \
    return static_cast<const T*>(raw());                                                      \
  }                                                                                           \
  template <> T* Tensor::data_any_layout<T>() {                                               \
    return const_cast<T*>(std::as_const(*this).data_any_layout<T>());                         \
  }                                                                                           \
  template <> const T* Tensor::data<T>() const {                                              \
    STEADY_CHECK(!blocked(), "tensor: ", str(), " is in the blocked layout, which this op ",  \
                 "does not read (engine/layout.h)");                                          \
    return data_any_layout<T>();                                                              \
  }                                                                                           \
  template <> T* Tensor::data<T>() { return const_cast<T*>(std::as_const(*this).data<T>()); }
STEADY_TYPED_DATA(float, DType::F32)
STEADY_TYPED_DATA(double, DType::F64)
#undef STEADY_TYPED_DATA

Tensor Tensor::reshape(const Shape& shape) const {
  STEADY_CHECK(shape_numel(shape) == numel(), "reshape: ", str(), " cannot become ",
               shape_str(shape));
  STEADY_CHECK(!blocked() || shape == shape_, "reshape: ", str(), " is blocked");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  STEADY_CHECK(offset >= 0 && offset + shape_numel(shape) <= numel(), "view: ", shape_str(shape),
               " at offset ", offset, " does not fit in ", str());
  // A blocked tensor's whole samples lie apart like a plain one's: views of samples only.
  const int64_t sample = blocked() ? shape_[1] * shape_[2] * shape_[3] : 1;
  STEADY_CHECK(!blocked() || (shape.size() == 4 && std::equal(shape.begin() + 1, shape.end(),
                                                               shape_.begin() + 1) &&
                              (sample == 0 ? offset == 0 : offset % sample == 0)),
               "view: ", shape_str(shape), " at offset ", offset, " of ", str(),
               " is not a range of whole samples");
  Tensor t = *this;
  t.offset_ = offset_ + offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  STEADY_CHECK(!blocked(), "tensor: ", str(), " is blocked; make it plain before moving it");
  Tensor t = empty(shape_, d, dtype_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype_) return *this;
  STEADY_CHECK(device() == Device::CPU && !blocked(),
               "tensor: dtype conversion runs on plain CPU tensors only, got ", str());
  Tensor t = empty(shape_, Device::CPU, dt);
  int64_t n = numel();
  if (dt == DType::F64) {
    const float* s = data<float>();
    double* o = t.data<double>();
    for (int64_t i = 0; i < n; ++i) o[i] = s[i];
  } else {
    const double* s = data<double>();
    float* o = t.data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(s[i]);
  }
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty_like(*this);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  STEADY_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_ && layout_ == src.layout_, "copy: ",
               src.str(), " into ", str());
  if (numel() == 0) return;
  // The non-CPU side does the copy (it knows its own stream).
  Backend& b = device() == Device::CUDA ? backend(Device::CUDA) : backend(src.device());
  b.copy(raw(), device(), src.raw(), src.device(), nbytes());
}

std::vector<double> Tensor::to_host() const {
  if (blocked()) return relayout(*this, Layout::Plain).to_host();
  count_host_sync();
  Tensor h = to(Device::CPU);
  if (dtype_ == DType::F32) h = h.to(DType::F64);
  const double* p = h.data<double>();
  return std::vector<double>(p, p + numel());
}

double Tensor::item() const {
  STEADY_CHECK(numel() == 1, "item: ", str(), " has more than one element");
  return to_host()[0];
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  STEADY_CHECK(a.defined() && b.defined(), op, ": undefined tensor");
  STEADY_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype() && a.layout() == b.layout(), op,
               ": shapes differ, ", a.str(), " vs ", b.str());
  check_same_device(op, a, b);
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  STEADY_CHECK(a.device() == b.device(), op, ": tensors on different devices, ", a.str(), " vs ",
               b.str());
}

void check_dim(const char* op, const Tensor& t, int dim, const char* what) {
  STEADY_CHECK(t.defined() && t.dim() == dim, op, ": ", what, " must have ", dim,
               " dimensions, got ", t.str());
}

}  // namespace steady
