/* Checks shared by the configuration and registry parsers of module conf. */
#ifndef CJX_CONF_INTERNAL_H
#define CJX_CONF_INTERNAL_H

/* 1 if s is an ORI: exactly CJX_ORI_LEN characters of [A-Z0-9]. */
int cjx_conf_ori_valid(const char *s);

/* 1 if s is "host:port" with a non-empty host (a name, an IPv4 address or a
 * bracketed IPv6 address) and a decimal port of 1-65535, or 0 as well when
 * allow_port_zero (the listener then takes any free port). */
int cjx_conf_address_valid(const char *s, int allow_port_zero);

#endif
