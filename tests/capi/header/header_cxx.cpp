// Compiled by CTest with c++ -std=c++20 -Wall -Wextra -pedantic -Werror: the
// C API header must also compile as C++ (extern "C", no C-only constructs).
#include <hearth/hearth.h>

int main() {
  hearth_value v{HEARTH_VALUE_STRING, 0, 0.0, "x", 1};
  (void)v;
  return hearth_abi_version() == HEARTH_ABI_VERSION ? 0 : 1;
}
