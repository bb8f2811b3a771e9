#ifndef CDAEMONSYSTEM_H
#define CDAEMONSYSTEM_H

/// Swaps two paths in one step (renameat2 with RENAME_EXCHANGE, Linux 3.15+, glibc 2.28+):
/// a result folder is replaced with no instant at which neither the old nor the new one is in
/// place. Returns 0, or -1 with errno set. Swift's Glibc module does not export renameat2
/// (it needs _GNU_SOURCE), hence this shim.
int lcovnet_rename_exchange(const char *a, const char *b);

#endif
