/* Device side of docs/protocol.md (version 1): framed, checksummed records. */
#ifndef MCB_PROTOCOL_H
#define MCB_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCB_PROTOCOL_VERSION 1
#define MCB_RECORD_MAX 512      /* bytes per record line, newline included */
#define MCB_OUT_CHUNK 64        /* output bytes per `outd` record */

/* Building a record: begin, add fields, end. Fields that would overflow MCB_RECORD_MAX are
 * dropped and the record is sent as `err code=overflow` instead, never truncated silently. */
void mcb_rec_begin(const char *type);
void mcb_rec_str(const char *key, const char *value);
void mcb_rec_u64(const char *key, uint64_t value);
void mcb_rec_i64(const char *key, int64_t value);
void mcb_rec_hex(const char *key, const uint8_t *data, size_t len);
void mcb_rec_end(void);

/* One-call helpers. */
void mcb_send_err(const char *code, const char *msg);
void mcb_send_done(int ok);

/* Commands: feed received bytes; returns 1 when a complete, checksum-valid command line is
 * ready, then fields can be read until the next feed. */
int mcb_cmd_feed(int byte);
const char *mcb_cmd_get(const char *key);            /* NULL when absent */
int mcb_cmd_get_u32(const char *key, uint32_t *out); /* 0 ok, -1 absent or invalid */
/* Decodes a hex field into buf; returns bytes written or -1 (bad hex or longer than cap). */
int mcb_cmd_get_hex(const char *key, uint8_t *buf, size_t cap);

uint16_t mcb_crc16(uint16_t crc, const uint8_t *data, size_t len);
uint32_t mcb_crc32(uint32_t crc, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
