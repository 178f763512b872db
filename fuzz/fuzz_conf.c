/* libFuzzer target: arbitrary bytes as a daemon configuration and as an
 * agency registry. Every input is accepted or refused with a message; none
 * may crash or leak. */
#include <stdint.h>
#include <stdlib.h>

#include "cjx/conf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cjx_errbuf eb;
    struct cjx_conf *conf = NULL;
    if (cjx_conf_parse((const char *)data, size, "/fuzz/cjxd.yaml", &conf,
                       &eb) == 0)
        cjx_conf_unref(conf);
    struct cjx_registry reg = {0};
    if (cjx_registry_parse((const char *)data, size, "fuzz-registry.yaml", &reg,
                           &eb) == 0)
        cjx_registry_fini(&reg);
    return 0;
}
