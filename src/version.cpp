// libhearth is assembled from the per-module static libraries; this file
// only gives the shared library target a source of its own.
#include "hearth/export.hpp"

extern "C" HEARTH_EXPORT const char* hearth_version() { return "0.1.0"; }
