/* Host build of the device-side protocol (firmware/core/mcb_protocol.c) for tests:
 *   proto_harness emit   -> writes a fixed set of records to stdout
 *   proto_harness parse  -> reads command lines on stdin, answers each with a `parsed` record */
#include <stdio.h>
#include <string.h>

#include "mcb_port.h"
#include "mcb_protocol.h"

void mcb_port_write(const char *data, size_t len) { fwrite(data, 1, len, stdout); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "emit") == 0) {
        static const uint8_t bytes[] = {0x00, 0x7F, 0x80, 0xFF};
        mcb_rec_begin("vals");
        mcb_rec_u64("umax", UINT64_MAX);
        mcb_rec_i64("imin", INT64_MIN);
        mcb_rec_i64("neg", -42);
        mcb_rec_u64("zero", 0);
        mcb_rec_str("text", "a b*c=d%e");
        mcb_rec_hex("hex", bytes, sizeof bytes);
        mcb_rec_end();
        /* Overflowing record: must become an err record, never a truncated one. */
        mcb_rec_begin("big");
        for (int i = 0; i < 100; i++) mcb_rec_str("field", "0123456789");
        mcb_rec_end();
        mcb_send_done(1);
        return 0;
    }
    int c;
    while ((c = getchar()) != EOF) {
        if (!mcb_cmd_feed(c)) continue;
        uint32_t u = 0;
        uint8_t buf[8];
        mcb_rec_begin("parsed");
        mcb_rec_str("name", mcb_cmd_get("name") ? mcb_cmd_get("name") : "(none)");
        if (mcb_cmd_get("text")) mcb_rec_str("text", mcb_cmd_get("text"));
        mcb_rec_i64("runs_ok", mcb_cmd_get_u32("runs", &u));
        mcb_rec_u64("runs", u);
        mcb_rec_i64("hex_len", mcb_cmd_get_hex("hex", buf, sizeof buf));
        mcb_rec_end();
    }
    return 0;
}
