/* Janus' ICE gathering skips every interface flagged IFF_LOOPBACK, so on a machine whose
 * tests run over 127.0.0.1 it offers only external addresses and connectivity checks fail.
 * Preloaded into the test Janus only, this clears the flag on what getifaddrs returns. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int getifaddrs(struct ifaddrs **ifap) {
	static int (*real_getifaddrs)(struct ifaddrs **) = NULL;
	if (real_getifaddrs == NULL)
		real_getifaddrs = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
	if (real_getifaddrs == NULL)
		return -1;
	int rc = real_getifaddrs(ifap);
	if (rc == 0) {
		for (struct ifaddrs *entry = *ifap; entry != NULL; entry = entry->ifa_next)
			entry->ifa_flags &= ~IFF_LOOPBACK;
	}
	return rc;
}
