/* One gRPC method: what the generated method tables describe. */
#ifndef CJX_METHOD_H
#define CJX_METHOD_H

#include <protobuf-c/protobuf-c.h>

/* A method of a service, generated from the .proto by protoc-gen-cjx-methods
 * so that the streaming flags and message types always match the schema. */
struct cjx_method {
    const char *path; /* "/cjx.v1.RecordService/SubmitRecord" */
    const char *name; /* "SubmitRecord" */
    int client_streaming;
    int server_streaming;
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
};

#endif
