#include "/usr/include/nifti/znzlib.h"
