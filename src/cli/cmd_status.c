/* cjxctl status: the daemon on one screen. */
#include "cjx/v1/status.methods.h"
#include "cli.h"
#include "status_print.h"

int
cmd_status(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: cjxctl status\n");
        return 2;
    }
    if (cli_connect(cli) != 0)
        return 1;
    Cjx__V1__GetStatusRequest req = CJX__V1__GET_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    if (cjx_client_unary(
            cli->client,
            &cjx__v1__status_service__methods[STATUS_SERVICE_GET_STATUS],
            &req.base, cli->timeout_ms, &resp, &st) != 0 ||
        st.code != 0)
        return cli_report_status("StatusService/GetStatus", &st);
    if (cli->json)
        cli_print_json_line(stdout, resp);
    else
        status_print(stdout, (Cjx__V1__DaemonStatus *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
