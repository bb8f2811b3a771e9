// OpenJPEG 2.5 from Debian (libopenjp2-7-dev); pkg-config adds /usr/include/openjpeg-2.5.
#include <openjpeg.h>
