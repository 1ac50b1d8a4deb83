// GNU extensions and signal handling that Swift cannot express directly.
#define _GNU_SOURCE
#include "ckvm.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

int ckvm_current_cpu(void) { return sched_getcpu(); }

int ckvm_pin_current_thread(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return 22; // EINVAL
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int ckvm_unshare_file_table(void) { return unshare(CLONE_FILES) == 0 ? 0 : errno; }

int ckvm_read_guest_tsc(int vcpu_fd, uint64_t *guest, uint64_t *before, uint64_t *after) {
#if defined(__x86_64__) || defined(__i386__)
  // struct kvm_msrs ends in a flexible array: the union gives it room for one entry.
  union {
    struct kvm_msrs msrs;
    unsigned char room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
  } request;
  memset(&request, 0, sizeof request);
  request.msrs.nmsrs = 1;
  request.msrs.entries[0].index = 0x10; // MSR_IA32_TSC
  *before = ckvm_host_tsc();
  int read = ioctl(vcpu_fd, KVM_GET_MSRS, &request);
  *after = ckvm_host_tsc();
  if (read < 0) return -1;
  if (read != 1) {
    errno = ENOTSUP;
    return -1;
  }
  *guest = request.msrs.entries[0].data;
  return 0;
#else
  (void)vcpu_fd;
  (void)guest;
  (void)before;
  (void)after;
  errno = ENOTSUP;
  return -1;
#endif
}

static volatile sig_atomic_t interrupt_signal = 0;

// Keeps the first signal only. Two signals may be handled at once on two threads
// (SIGINT on one, SIGTERM on another); a test-then-store would let the second
// overwrite the first, so the store is one lock-free compare-and-swap.
static void on_interrupt(int sig) { __sync_bool_compare_and_swap(&interrupt_signal, 0, sig); }

static void on_kick(int sig) { (void)sig; }

static void install(int sig, void (*handler)(int)) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  // While one interruption's handler runs the others wait: two signals pending at
  // once are otherwise delivered as nested frames, and the later one's handler,
  // on top, would run (and record itself) first.
  if (handler == on_interrupt) {
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    sigaddset(&action.sa_mask, SIGHUP);
  }
  action.sa_flags = 0; // no SA_RESTART: KVM_RUN must return EINTR
  action.sa_handler = handler;
  sigaction(sig, &action, NULL);
}

void ckvm_install_kick_handler(void) { install(SIGUSR1, on_kick); }

void ckvm_install_interrupt_handlers(void) {
  install(SIGINT, on_interrupt);
  install(SIGTERM, on_interrupt);
  install(SIGHUP, on_interrupt);
  ckvm_install_kick_handler();
}

void ckvm_install_process_signals(void) {
  ckvm_install_interrupt_handlers();
  // A write past RLIMIT_FSIZE or into a closed pipe fails with EFBIG or EPIPE
  // instead of killing the process, so it ends with a sentence.
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int ckvm_interrupt_signal(void) { return interrupt_signal; }

void ckvm_clear_interrupt(void) { interrupt_signal = 0; }

int ckvm_kick_thread(unsigned long thread) { return pthread_kill((pthread_t)thread, SIGUSR1); }

unsigned long ckvm_thread_self(void) { return (unsigned long)pthread_self(); }

// libnuma calls numa_warn(3) and numa_error(3) for its own problems and lets the
// program define them; its versions print to stderr. These keep the first message
// so cmmio can fold it into its one sentence.
static char numa_message[256];

void numa_warn(int number, char *format, ...) {
  (void)number;
  if (numa_message[0] != 0) return;
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(numa_message, sizeof numa_message, format, arguments);
  va_end(arguments);
}

void numa_error(char *where) {
  if (numa_message[0] != 0) return;
  snprintf(numa_message, sizeof numa_message, "%s failed", where);
}

const char *ckvm_numa_message(void) { return numa_message[0] != 0 ? numa_message : 0; }
