/* The descriptors of every .proto file cjxd serves, embedded at build time
 * (tools/protoc-gen-cjx-descriptors, from the same files the build
 * compiles), for server reflection. */
#ifndef CJX_DESCRIPTOR_SET_H
#define CJX_DESCRIPTOR_SET_H

#include <stddef.h>

/* One file: its name as imported ("cjx/v1/types.proto"), its serialized
 * google.protobuf.FileDescriptorProto, and the indexes in
 * cjx_descriptor_files of the files it imports. Files come after their
 * imports. */
struct cjx_descriptor_file {
    const char *name;
    const unsigned char *data;
    size_t len;
    const int *deps;
    size_t n_deps;
};

enum cjx_symbol_kind {
    CJX_SYMBOL_MESSAGE,
    CJX_SYMBOL_ENUM,
    CJX_SYMBOL_FIELD,
    CJX_SYMBOL_SERVICE,
    CJX_SYMBOL_METHOD,
};

/* A fully-qualified symbol ("cjx.v1.ConvictionRecord", a nested message,
 * an enum, a field, a service, "pkg.Service.Method"), what it is, and the
 * index of the file declaring it. Sorted by name (strcmp). */
struct cjx_descriptor_symbol {
    const char *name;
    enum cjx_symbol_kind kind;
    int file;
};

extern const struct cjx_descriptor_file cjx_descriptor_files[];
extern const size_t cjx_descriptor_file_count;
extern const struct cjx_descriptor_symbol cjx_descriptor_symbols[];
extern const size_t cjx_descriptor_symbol_count;

#endif
