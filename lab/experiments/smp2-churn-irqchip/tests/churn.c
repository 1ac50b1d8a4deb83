#define WITH_IRQCHIP 1
#include "../../vcpu-churn.c"
