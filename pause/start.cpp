// The freestanding runtime of peapod-pause: the process entry point, and the memory routines that
// GCC may emit calls to even in a -ffreestanding build (for struct copies and zeroing).
#include "linux_syscall.h"

namespace peapod::pause {
int Main(int argc, char** argv);
}

// The kernel enters _start with no return address and the stack pointing at
// argc, argv[0..argc-1], NULL, envp..., NULL, auxv.
extern "C" [[noreturn]] void peapod_pause_start(long* initial_stack) {
  int argc = static_cast<int>(initial_stack[0]);
  char** argv = reinterpret_cast<char**>(initial_stack + 1);
  peapod::pause::linux_abi::ExitGroup(peapod::pause::Main(argc, argv));
}

// Zero the frame pointer (and link register) so unwinders and debuggers stop here, and align the
// stack to 16 bytes as both ABIs require at a call.
#if defined(__x86_64__)
asm(R"(
  .text
  .global _start
  .type _start, %function
_start:
  xor %ebp, %ebp
  mov %rsp, %rdi
  and $-16, %rsp
  call peapod_pause_start
  hlt
)");
#elif defined(__aarch64__)
asm(R"(
  .text
  .global _start
  .type _start, %function
_start:
  mov x29, #0
  mov x30, #0
  mov x0, sp
  and sp, x0, #-16
  bl peapod_pause_start
  brk #0
)");
#endif

// Built with -fno-tree-loop-distribute-patterns, so GCC cannot turn these loops back into calls to
// themselves.
extern "C" void* memset(void* destination, int value, __SIZE_TYPE__ size) {
  auto* bytes = static_cast<unsigned char*>(destination);
  for (__SIZE_TYPE__ i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(value);
  return destination;
}

extern "C" void* memcpy(void* destination, const void* source, __SIZE_TYPE__ size) {
  auto* to = static_cast<unsigned char*>(destination);
  const auto* from = static_cast<const unsigned char*>(source);
  for (__SIZE_TYPE__ i = 0; i < size; ++i) to[i] = from[i];
  return destination;
}
