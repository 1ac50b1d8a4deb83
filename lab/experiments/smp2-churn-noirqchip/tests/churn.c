#define WITH_IRQCHIP 0
#include "../../vcpu-churn.c"
