// OpenSSL's libcrypto (Debian's libssl-dev; DCMTK's dcmtls links it already): SHA-256 digests.
#include <openssl/evp.h>
