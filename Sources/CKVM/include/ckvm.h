// The C floor under cmmio's KVM layer.
//
// Swift cannot call the variadic ioctl(2) nor import the _IO/_IOW/_IOR request
// macros, so every request number is re-exported here as a constant and the
// call goes through two non-variadic wrappers. Anything newer than the 6.1 uapi
// headers (and the unmerged v2 coalesced MMIO API) is declared under #ifndef.
#ifndef CMMIO_CKVM_H
#define CMMIO_CKVM_H

#include <linux/kvm.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

// MARK: - The proposed v2 API ("KVM: Improve MMIO Coalescing API", third posting, 2024-08-20).
// Never merged. Its capability number (239) is taken in mainline by another
// feature, so cmmio never uses it for detection; see CoalescedBuffer.swift.

#ifndef KVM_CAP_COALESCED_MMIO2
#define KVM_CAP_COALESCED_MMIO2 239
#endif

#ifndef KVM_CREATE_COALESCED_MMIO_BUFFER
struct kvm_coalesced_mmio_zone2 {
  __u64 addr;
  __u32 size;
  union {
    __u32 pad;
    __u32 pio;
  };
  __u32 buffer_fd;
};
#define KVM_CREATE_COALESCED_MMIO_BUFFER _IO(KVMIO, 0xd6)
#define KVM_REGISTER_COALESCED_MMIO2 _IOW(KVMIO, 0xd7, struct kvm_coalesced_mmio_zone2)
#define KVM_UNREGISTER_COALESCED_MMIO2 _IOW(KVMIO, 0xd8, struct kvm_coalesced_mmio_zone2)
#endif

// MARK: - Request numbers, as constants Swift can import.
// Not a C enum: read-direction numbers have bit 31 set.

static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_REGISTER_COALESCED_MMIO = KVM_REGISTER_COALESCED_MMIO;
static const unsigned long CKVM_UNREGISTER_COALESCED_MMIO = KVM_UNREGISTER_COALESCED_MMIO;
static const unsigned long CKVM_GET_STATS_FD = KVM_GET_STATS_FD;
static const unsigned long CKVM_IOEVENTFD = KVM_IOEVENTFD;
static const unsigned long CKVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;

// struct kvm_ioeventfd's flags, built from an enum by shifts Swift cannot import.
static const unsigned int CKVM_IOEVENTFD_FLAG_DATAMATCH = KVM_IOEVENTFD_FLAG_DATAMATCH;
static const unsigned int CKVM_IOEVENTFD_FLAG_PIO = KVM_IOEVENTFD_FLAG_PIO;
static const unsigned int CKVM_IOEVENTFD_FLAG_DEASSIGN = KVM_IOEVENTFD_FLAG_DEASSIGN;
static const unsigned long CKVM_CREATE_COALESCED_MMIO_BUFFER = KVM_CREATE_COALESCED_MMIO_BUFFER;
static const unsigned long CKVM_REGISTER_COALESCED_MMIO2 = KVM_REGISTER_COALESCED_MMIO2;
static const unsigned long CKVM_UNREGISTER_COALESCED_MMIO2 = KVM_UNREGISTER_COALESCED_MMIO2;

// MARK: - Non-variadic ioctl(2).

/// ioctl(2) with a pointer argument. Returns -1 and sets errno on failure.
static inline int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg) {
  return ioctl(fd, request, arg);
}

/// ioctl(2) with an integer argument (KVM_CHECK_EXTENSION, KVM_CREATE_VCPU, …).
static inline int ckvm_ioctl_int(int fd, unsigned long request, unsigned long arg) {
  return ioctl(fd, request, arg);
}

// MARK: - Clocks: the host's TSC and the vCPU's (drain delay, GuestClock.swift).

/// The host CPU's time-stamp counter (rdtsc), or 0 on a CPU without one.
static inline uint64_t ckvm_host_tsc(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#else
  return 0;
#endif
}

/// Reads the vCPU's MSR_IA32_TSC (0x10) with KVM_GET_MSRS, between two host rdtsc
/// readings stored in *before and *after. Returns 0, or -1 with errno set (ENOTSUP
/// where KVM_GET_MSRS returned no entry, or off x86).
int ckvm_read_guest_tsc(int vcpu_fd, uint64_t *guest, uint64_t *before, uint64_t *after);

// MARK: - GNU-only calls, compiled with _GNU_SOURCE in ckvm.c.

/// sched_getcpu(3): the CPU the calling thread runs on now, or -1.
int ckvm_current_cpu(void);

/// Pins the calling thread to one CPU with pthread_setaffinity_np(3).
/// Returns 0 or the error number (pthread calls do not set errno).
int ckvm_pin_current_thread(int cpu);

/// unshare(2) with CLONE_FILES: a private copy of the fd table for the calling
/// thread. Returns 0 or the error number.
int ckvm_unshare_file_table(void);

// MARK: - Interruption.

/// Installs SIGINT and SIGTERM handlers without SA_RESTART, so a blocked
/// KVM_RUN returns EINTR, and the SIGUSR1 kick (ckvm_install_kick_handler).
/// The handler only records the signal number.
void ckvm_install_interrupt_handlers(void);

/// What the cmmio process installs before anything else runs: the SIGINT, SIGTERM
/// and SIGHUP handlers and the kick (as above, all unblocked on the calling thread),
/// and SIGXFSZ and SIGPIPE ignored so an oversized or broken write fails with
/// EFBIG or EPIPE rather than killing the process.
void ckvm_install_process_signals(void);

/// Installs only the "kick": SIGUSR1 with a no-op handler and no SA_RESTART, so a
/// thread in KVM_RUN returns EINTR (SIGUSR1's default action would end the process).
/// SIGINT and SIGTERM keep whatever meaning they have.
void ckvm_install_kick_handler(void);

/// The first signal that interrupted the process (SIGINT, SIGTERM, SIGHUP), or 0.
int ckvm_interrupt_signal(void);

/// Clears the recorded interruption (tests only).
void ckvm_clear_interrupt(void);

/// Sends SIGUSR1 to a thread so its KVM_RUN returns with EINTR.
int ckvm_kick_thread(unsigned long thread);

/// pthread_self() as an integer, to be kicked later.
unsigned long ckvm_thread_self(void);

/// The first message libnuma gave through numa_warn(3) or numa_error(3), which
/// ckvm.c defines in place of libnuma's own (they print to stderr), or NULL.
const char *ckvm_numa_message(void);

#endif
