#include "../../hold-noapic-key.c"
