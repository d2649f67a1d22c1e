/* Compatibility path: the scheduling contract moved to loop/sched.h, beside
 * the code that implements it. Include that instead; this forwarder exists
 * only for branches written before the move and goes once they are merged
 * (the layer check, cmake/layers.sh, allows it and nothing else of the kind). */
#include "loop/sched.h"
