/* Internal: what the sanitizers and valgrind must be told about stack
 * switches. Every call compiles to nothing in a plain build.
 *
 * ASan: __sanitizer_start_switch_fiber() before each switch names the stack
 * being entered; __sanitizer_finish_switch_fiber() right after a context
 * resumes. A coroutine's last switch passes NULL so ASan frees its fake
 * stack. TSan: one fiber per coroutine, __tsan_switch_to_fiber() before the
 * switch. Valgrind: each stack registered once (stack.c).
 */
#ifndef CC_CORO_ANNOT_H
#define CC_CORO_ANNOT_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define CC__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CC__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CC__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CC__TSAN 1
#endif
#endif

#ifdef CC__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#define CC__ASAN_START(save, lo, size)                                                   \
  __sanitizer_start_switch_fiber((save), (lo), (size))
#define CC__ASAN_FINISH(save) __sanitizer_finish_switch_fiber((save), NULL, NULL)
#define CC__ASAN_FINISH_OLD(save, lo, size)                                              \
  __sanitizer_finish_switch_fiber((save), (lo), (size))
#else
#define CC__ASAN_START(save, lo, size)      ((void)0)
#define CC__ASAN_FINISH(save)               ((void)0)
#define CC__ASAN_FINISH_OLD(save, lo, size) ((void)0)
#endif

#ifdef CC__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#endif
