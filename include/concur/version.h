/* concur: version numbers, bumped by hand at each release (see CHANGELOG.md). */
#ifndef CONCUR_VERSION_H
#define CONCUR_VERSION_H

#include "common.h"

#define CC_VERSION_MAJOR  0
#define CC_VERSION_MINOR  1
#define CC_VERSION_PATCH  0
#define CC_VERSION_STRING "0.1.0"

CC_BEGIN_DECLS

/** The version of the library actually linked, as "major.minor.patch". */
CC_EXTERN const char *cc_version_string(void);

CC_END_DECLS
#endif
