#ifndef CMMIO_CNUMA_SHIM_H
#define CMMIO_CNUMA_SHIM_H
#include <numa.h>
#endif
