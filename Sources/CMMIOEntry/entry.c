// The cmmio executable's signal set-up, run as an ELF constructor: before the
// Swift runtime and main(), so a SIGINT, SIGTERM or SIGHUP in the first moments
// is recorded (exit 130 with a report) rather than fatal. Only the executable
// links this target, but SwiftPM also links the executable's modules into the
// test bundle (`*.xctest`), which keeps its default dispositions.
#define _GNU_SOURCE
#include "cmmio_entry.h"

#include <errno.h>
#include <string.h>

#include "ckvm.h"

__attribute__((constructor(101))) static void cmmio_entry_signals(void) {
  const char *name = program_invocation_short_name;
  size_t length = strlen(name);
  if (length >= 7 && strcmp(name + length - 7, ".xctest") == 0) return;
  ckvm_install_process_signals();
}

int cmmio_entry_linked(void) { return 1; }
