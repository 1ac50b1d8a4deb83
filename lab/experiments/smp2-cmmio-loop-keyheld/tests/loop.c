#include "../../cmmio-loop.c"
