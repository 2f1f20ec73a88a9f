#include "sync/wire.hpp"

namespace hearth::sync {

void Writer::Be(uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Writer& Writer::Array(uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<uint8_t>(0x90 | n));
  } else if (n < 65536) {
    out_.push_back(0xdc);
    Be(n, 2);
  } else {
    out_.push_back(0xdd);
    Be(n, 4);
  }
  return *this;
}

Writer& Writer::Uint(uint64_t v) {
  if (v < 128) {
    out_.push_back(static_cast<uint8_t>(v));
  } else if (v < 256) {
    out_.push_back(0xcc);
    Be(v, 1);
  } else if (v < 65536) {
    out_.push_back(0xcd);
    Be(v, 2);
  } else if (v <= 0xffffffffull) {
    out_.push_back(0xce);
    Be(v, 4);
  } else {
    out_.push_back(0xcf);
    Be(v, 8);
  }
  return *this;
}

Writer& Writer::Bin(std::span<const uint8_t> b) {
  const size_t n = b.size();
  if (n < 256) {
    out_.push_back(0xc4);
    Be(n, 1);
  } else if (n < 65536) {
    out_.push_back(0xc5);
    Be(n, 2);
  } else {
    out_.push_back(0xc6);
    Be(n, 4);
  }
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

Writer& Writer::Str(std::string_view s) {
  const size_t n = s.size();
  if (n < 32) {
    out_.push_back(static_cast<uint8_t>(0xa0 | n));
  } else if (n < 256) {
    out_.push_back(0xd9);
    Be(n, 1);
  } else if (n < 65536) {
    out_.push_back(0xda);
    Be(n, 2);
  } else {
    out_.push_back(0xdb);
    Be(n, 4);
  }
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}

Writer& Writer::Nil() {
  out_.push_back(0xc0);
  return *this;
}

Writer& Writer::Bool(bool b) {
  out_.push_back(b ? 0xc3 : 0xc2);
  return *this;
}

Result<uint64_t> Reader::Be(int n) {
  if (end_ - p_ < n) return Status::Corruption("sync: truncated message");
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | *p_++;
  return v;
}

Result<uint32_t> Reader::Array(uint32_t max_items) {
  if (p_ >= end_) return Status::Corruption("sync: truncated message (array)");
  const uint8_t t = *p_++;
  uint64_t n;
  if ((t & 0xf0) == 0x90) {
    n = t & 0x0f;
  } else if (t == 0xdc || t == 0xdd) {
    auto v = Be(t == 0xdc ? 2 : 4);
    if (!v.ok()) return v.status();
    n = *v;
  } else {
    return Status::Corruption("sync: expected an array");
  }
  // Every element takes at least one byte.
  if (n > max_items || n > static_cast<uint64_t>(end_ - p_)) {
    return Status::Corruption("sync: array of " + std::to_string(n) + " items exceeds its bounds");
  }
  return static_cast<uint32_t>(n);
}

Result<uint64_t> Reader::Uint() {
  if (p_ >= end_) return Status::Corruption("sync: truncated message (uint)");
  const uint8_t t = *p_++;
  if (t < 0x80) return uint64_t{t};
  switch (t) {
    case 0xcc: return Be(1);
    case 0xcd: return Be(2);
    case 0xce: return Be(4);
    case 0xcf: return Be(8);
    default: return Status::Corruption("sync: expected an unsigned integer");
  }
}

Result<std::span<const uint8_t>> Reader::Bin(uint64_t max_bytes) {
  if (p_ >= end_) return Status::Corruption("sync: truncated message (bin)");
  const uint8_t t = *p_++;
  int w = t == 0xc4 ? 1 : t == 0xc5 ? 2 : t == 0xc6 ? 4 : 0;
  if (w == 0) return Status::Corruption("sync: expected bin");
  auto n = Be(w);
  if (!n.ok()) return n.status();
  if (*n > max_bytes || *n > static_cast<uint64_t>(end_ - p_)) {
    return Status::Corruption("sync: bin of " + std::to_string(*n) + " bytes exceeds its bounds");
  }
  std::span<const uint8_t> s(p_, static_cast<size_t>(*n));
  p_ += *n;
  return s;
}

Result<std::string> Reader::Str(uint64_t max_bytes) {
  if (p_ >= end_) return Status::Corruption("sync: truncated message (str)");
  const uint8_t t = *p_++;
  uint64_t n;
  if ((t & 0xe0) == 0xa0) {
    n = t & 0x1f;
  } else {
    int w = t == 0xd9 ? 1 : t == 0xda ? 2 : t == 0xdb ? 4 : 0;
    if (w == 0) return Status::Corruption("sync: expected str");
    auto v = Be(w);
    if (!v.ok()) return v.status();
    n = *v;
  }
  if (n > max_bytes || n > static_cast<uint64_t>(end_ - p_)) {
    return Status::Corruption("sync: str exceeds its bounds");
  }
  std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
  p_ += n;
  return s;
}

Result<bool> Reader::Bool() {
  if (p_ >= end_) return Status::Corruption("sync: truncated message (bool)");
  const uint8_t t = *p_++;
  if (t == 0xc2) return false;
  if (t == 0xc3) return true;
  return Status::Corruption("sync: expected bool");
}

Status Reader::Finish() const {
  if (p_ != end_) return Status::Corruption("sync: trailing bytes in message");
  return Status::Ok();
}

}  // namespace hearth::sync
