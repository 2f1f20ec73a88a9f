/* Compiled by CTest with cc -std=c99 -Wall -Wextra -pedantic -Werror: the C
 * API header must be plain C99. */
#include <hearth/hearth.h>

int main(void) {
  hearth_value v = {HEARTH_VALUE_INT, 42, 0.0, 0, 0};
  hearth_commit_info info = {0, 0, 0};
  (void)v;
  (void)info;
  return hearth_abi_version() == HEARTH_ABI_VERSION ? 0 : 1;
}
