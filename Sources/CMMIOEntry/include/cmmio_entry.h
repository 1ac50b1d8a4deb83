#ifndef CMMIO_ENTRY_H
#define CMMIO_ENTRY_H

/// Referenced from main so the linker keeps the constructor's object file.
int cmmio_entry_linked(void);

#endif
