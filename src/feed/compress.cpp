// zstd frames of version-2 delta payloads (see compress.hpp).
#include "feed/compress.hpp"

#include <zstd.h>

#include <memory>
#include <string>

namespace hearth::feed {
namespace {

constexpr uint8_t kMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};  // 0xFD2FB528, little-endian
constexpr int kWindowLog = 24;                            // 16 MiB = kMaxCompressedPayloadBytes
static_assert((uint64_t{1} << kWindowLog) >= kMaxCompressedPayloadBytes);

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread, reused: creating one costs a few hundred KB of
// allocations, more than compressing a small payload.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> c(ZSTD_createCCtx());
  return c.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> d(ZSTD_createDCtx());
  return d.get();
}

Status Bad(const std::string& why) { return Status::Corruption("compressed payload: " + why); }

}  // namespace

Result<uint64_t> CompressedPayloadSize(std::span<const uint8_t> f) {
  if (f.size() < 4 || f[0] != kMagic[0] || f[1] != kMagic[1] || f[2] != kMagic[2] ||
      f[3] != kMagic[3]) {
    return Bad("not a zstd frame (magic number 28 b5 2f fd missing)");
  }
  if (f.size() < 5) return Bad("zstd frame truncated in its header");
  const uint8_t fhd = f[4];  // Frame_Header_Descriptor
  if ((fhd & 0x20) == 0) return Bad("zstd frame is not single-segment (Single_Segment_flag clear)");
  if ((fhd & 0x08) != 0) return Bad("zstd frame header has its reserved bit set");
  if ((fhd & 0x03) != 0) return Bad("zstd frame names a dictionary");
  // Single segment: no Window_Descriptor; Frame_Content_Size follows,
  // 1, 2 (value - 256), 4 or 8 bytes little-endian by FCS_Field_Size.
  static constexpr size_t kFcsBytes[4] = {1, 2, 4, 8};
  const size_t n = kFcsBytes[fhd >> 6];
  if (f.size() < 5 + n) return Bad("zstd frame truncated in its header");
  uint64_t size = 0;
  for (size_t i = 0; i < n; ++i) size |= uint64_t{f[5 + i]} << (8 * i);
  if (n == 2) size += 256;
  if (size == 0) return Bad("zstd frame declares an empty payload");
  if (size > kMaxCompressedPayloadBytes) {
    return Bad("zstd frame declares " + std::to_string(size) +
               " bytes, more than the format's limit of " +
               std::to_string(kMaxCompressedPayloadBytes) + " for a compressed payload");
  }
  return size;
}

Result<Bytes> CompressPayload(std::span<const uint8_t> payload) {
  if (payload.empty() || payload.size() > kMaxCompressedPayloadBytes) {
    return Status::InvalidArgument("CompressPayload: payload of " + std::to_string(payload.size()) +
                                   " bytes is outside 1.." +
                                   std::to_string(kMaxCompressedPayloadBytes));
  }
  ZSTD_CCtx* c = ThreadCCtx();
  if (c == nullptr) return Status::Internal("zstd: cannot create a compression context");
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  // The window log is lowered by libzstd to fit the (known) input size, so
  // the frame is always single-segment for inputs up to 2^24 bytes.
  for (auto [p, v] : {std::pair{ZSTD_c_compressionLevel, kCompressLevel},
                      std::pair{ZSTD_c_windowLog, kWindowLog},
                      std::pair{ZSTD_c_contentSizeFlag, 1},
                      std::pair{ZSTD_c_checksumFlag, 0},
                      std::pair{ZSTD_c_dictIDFlag, 0}}) {
    const size_t r = ZSTD_CCtx_setParameter(c, p, v);
    if (ZSTD_isError(r)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(r));
  }
  Bytes out(ZSTD_compressBound(payload.size()));
  const size_t r = ZSTD_compress2(c, out.data(), out.size(), payload.data(), payload.size());
  if (ZSTD_isError(r)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(r));
  out.resize(r);
  // What every reader will check; a libzstd that wrote anything else would
  // produce undecodable deltas.
  auto declared = CompressedPayloadSize(out);
  if (!declared.ok() || *declared != payload.size()) {
    return Status::Internal("zstd wrote a frame a reader would refuse: " +
                            (declared.ok() ? std::string("wrong content size") : declared.status().message()));
  }
  return out;
}

Result<Bytes> DecompressPayload(std::span<const uint8_t> frame, uint64_t max_payload_bytes) {
  auto declared = CompressedPayloadSize(frame);
  if (!declared.ok()) return declared.status();
  const uint64_t size = *declared;
  if (size > max_payload_bytes) {
    return Status::ResourceExhausted("compressed payload declares " + std::to_string(size) +
                                     " bytes decompressed, more than this reader's limit of " +
                                     std::to_string(max_payload_bytes));
  }
  // Walks the block headers without decompressing: one frame exactly.
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    return Bad(std::string("invalid or truncated zstd frame (") + ZSTD_getErrorName(frame_size) + ")");
  }
  if (frame_size != frame.size()) {
    return Bad(std::to_string(frame.size() - frame_size) + " bytes after the zstd frame");
  }
  ZSTD_DCtx* d = ThreadDCtx();
  if (d == nullptr) return Status::Internal("zstd: cannot create a decompression context");
  Bytes out(static_cast<size_t>(size));
  const size_t r = ZSTD_decompressDCtx(d, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(r)) {
    return Bad(std::string("zstd frame does not decompress (") + ZSTD_getErrorName(r) + ")");
  }
  if (r != size) {
    return Bad("zstd frame decompresses to " + std::to_string(r) + " bytes but declares " +
               std::to_string(size));
  }
  return out;
}

}  // namespace hearth::feed
