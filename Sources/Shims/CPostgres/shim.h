// libpq, PostgreSQL's own client library (Debian's libpq-dev): the shared job ledger.
#include <libpq-fe.h>
