#include <oneapi/dnnl/dnnl.h>
// Swift's clang does not see GCC's omp.h; Debian's oneDNN is threaded by GNU OpenMP, which reads
// OMP_NUM_THREADS only when it loads, so the thread count is set in-process through these.
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
