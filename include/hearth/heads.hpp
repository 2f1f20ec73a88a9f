// Heads files: a replica's version vector (Heads) as JSON text, the format of
// `hearth heads --json` and of `hearth export --since-heads FILE`
// (docs/bundle-format.md, "Heads file"). The offline USB flow:
//
//   receiver B:  SaveHeads(*b->GetHeads(), "/media/usb/b.heads")
//   sender A:    ExportBundle(*a, LoadHeads("/media/usb/b.heads").value(), "/media/usb/a.bundle")
//   receiver B:  ImportBundle(*b, "/media/usb/a.bundle")
//
//   {"heads": [{"author": "<64 hex>", "seq": 12, "hash": "<64 hex>"}, ...]}
//
// A heads file is not secret and not signed: it only tells a sender which
// deltas the receiver holds already. A wrong one costs a larger (or a too
// small, then gapped) bundle, never wrong data.
//
// Thread safety: free functions on plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "hearth/export.hpp"
#include "hearth/replica.hpp"
#include "hearth/status.hpp"

namespace hearth {

// The largest heads text HeadsFromJson and LoadHeads accept (bytes).
inline constexpr size_t kMaxHeadsFileSize = 16u << 20;

// {"heads":[...]}: one entry per author, in author order; no whitespace;
// ends without a newline.
HEARTH_EXPORT std::string HeadsToJson(const Heads& heads);

// Parses a heads text. Accepts the object HeadsToJson writes, with an
// optional "author" (64 hex: the replica that printed it, as `hearth heads
// --json` adds; not used) and a bare array of heads. Anything else is
// kInvalidArgument naming what is wrong: text over kMaxHeadsFileSize, not
// JSON, unknown or repeated keys, a missing key, a non-string author or hash,
// hex of the wrong length, seq not an integer in [1, 2^63-1], an author
// listed twice.
HEARTH_EXPORT Result<Heads> HeadsFromJson(std::string_view text);

// Writes HeadsToJson(heads) plus a newline to `path`: a temporary file in the
// same directory, fsynced, renamed over `path`, directory fsynced.
HEARTH_EXPORT Status SaveHeads(const Heads& heads, const std::string& path);

// Reads and parses a heads file (kNotFound when it does not exist, kIOError
// when unreadable, otherwise as HeadsFromJson with the path in the message).
HEARTH_EXPORT Result<Heads> LoadHeads(const std::string& path);

}  // namespace hearth
