// Symbol visibility for the hearth shared library. The library is built with
// hidden visibility; only what is marked HEARTH_EXPORT is part of the ABI.
#pragma once

#if defined(HEARTH_STATIC)
#define HEARTH_EXPORT
#elif defined(_WIN32)
#ifdef HEARTH_BUILDING
#define HEARTH_EXPORT __declspec(dllexport)
#else
#define HEARTH_EXPORT __declspec(dllimport)
#endif
#else
#define HEARTH_EXPORT [[gnu::visibility("default")]]
#endif
