/* Device side of docs/protocol.md. Records are assembled in one fixed buffer and written
 * with a single port call, so a record is never interleaved with other output of ours. */
#include "mcb_protocol.h"

#include <string.h>

#include "mcb_port.h"

static char rec_buf[MCB_RECORD_MAX];
static size_t rec_len;
static int rec_overflow;

uint16_t mcb_crc16(uint16_t crc, const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)data[i] << 8;
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint32_t mcb_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
    }
    return ~crc;
}

static const char HEX[] = "0123456789ABCDEF";

static void put_raw(const char *s, size_t n) {
    /* Keep 8 bytes for " *XXXX\n". */
    if (rec_overflow || rec_len + n > MCB_RECORD_MAX - 8) {
        rec_overflow = 1;
        return;
    }
    memcpy(rec_buf + rec_len, s, n);
    rec_len += n;
}

static int is_plain(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '+' || c == ',' || c == '-';
}

static void put_escaped(const char *s) {
    for (; *s; s++) {
        if (is_plain(*s)) {
            put_raw(s, 1);
        } else {
            char esc[3] = {'%', HEX[((uint8_t)*s) >> 4], HEX[((uint8_t)*s) & 15]};
            put_raw(esc, 3);
        }
    }
}

void mcb_rec_begin(const char *type) {
    rec_len = 0;
    rec_overflow = 0;
    put_raw("@MCB1 ", 6);
    put_raw(type, strlen(type));
}

static void put_key(const char *key) {
    put_raw(" ", 1);
    put_raw(key, strlen(key));
    put_raw("=", 1);
}

void mcb_rec_str(const char *key, const char *value) {
    put_key(key);
    put_escaped(value ? value : "");
}

/* Decimal digits of `value`, most significant first. */
static void put_decimal(uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (value % 10u));
        value /= 10u;
    } while (value && n < 20);
    while (n) put_raw(&digits[--n], 1);
}

void mcb_rec_u64(const char *key, uint64_t value) {
    put_key(key);
    put_decimal(value);
}

void mcb_rec_i64(const char *key, int64_t value) {
    put_key(key);
    if (value < 0) {
        put_raw("-", 1);
        put_decimal((uint64_t)(-(value + 1)) + 1u); /* |INT64_MIN| without overflow */
    } else {
        put_decimal((uint64_t)value);
    }
}

void mcb_rec_hex(const char *key, const uint8_t *data, size_t len) {
    put_key(key);
    for (size_t i = 0; i < len; i++) {
        char h[2] = {HEX[data[i] >> 4], HEX[data[i] & 15]};
        put_raw(h, 2);
    }
}

void mcb_rec_end(void) {
    if (rec_overflow) {
        /* Never send a truncated record: report the overflow instead. */
        mcb_rec_begin("err");
        mcb_rec_str("code", "overflow");
        mcb_rec_str("msg", "record longer than MCB_RECORD_MAX");
    }
    rec_buf[rec_len++] = ' ';
    uint16_t crc = mcb_crc16(0xFFFFu, (const uint8_t *)rec_buf, rec_len);
    rec_buf[rec_len++] = '*';
    rec_buf[rec_len++] = HEX[(crc >> 12) & 15];
    rec_buf[rec_len++] = HEX[(crc >> 8) & 15];
    rec_buf[rec_len++] = HEX[(crc >> 4) & 15];
    rec_buf[rec_len++] = HEX[crc & 15];
    rec_buf[rec_len++] = '\n';
    mcb_port_write(rec_buf, rec_len);
}

void mcb_send_err(const char *code, const char *msg) {
    mcb_rec_begin("err");
    mcb_rec_str("code", code);
    mcb_rec_str("msg", msg);
    mcb_rec_end();
}

void mcb_send_done(int ok) {
    mcb_rec_begin("done");
    mcb_rec_str("status", ok ? "ok" : "error");
    mcb_rec_end();
}

/* ---- commands ---------------------------------------------------------------------------- */

#define MCB_MAX_FIELDS 8

static char cmd_line[MCB_RECORD_MAX];
static size_t cmd_len;
static int cmd_discard; /* inside an overlong line: drop until newline */
static const char *cmd_keys[MCB_MAX_FIELDS];
static char *cmd_vals[MCB_MAX_FIELDS];
static int cmd_nfields;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes %XX escapes in place. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

static int parse_cmd_line(void) {
    cmd_line[cmd_len] = 0;
    /* The record starts at the last marker on the line (noise before it is ignored). */
    char *start = NULL;
    for (char *p = cmd_line; (p = strstr(p, "@MCB")) != NULL; p++) start = p;
    if (!start) return 0;
    size_t n = strlen(start);
    while (n && (start[n - 1] == '\r' || start[n - 1] == ' ')) n--;
    if (n < 12 || start[n - 6] != ' ' || start[n - 5] != '*') return 0;
    uint16_t want = 0;
    for (int i = 0; i < 4; i++) {
        int v = hexval(start[n - 4 + i]);
        if (v < 0) return 0;
        want = (uint16_t)(want * 16 + v);
    }
    if (mcb_crc16(0xFFFFu, (const uint8_t *)start, n - 5) != want) return 0;
    start[n - 6] = 0;
    if (strncmp(start, "@MCB1 cmd", 9) != 0 || (start[9] != ' ' && start[9] != 0)) return 0;
    cmd_nfields = 0;
    char *p = start + 9;
    while (*p == ' ') {
        *p++ = 0;
        char *eq = strchr(p, '=');
        char *sp = strchr(p, ' ');
        if (!eq || (sp && sp < eq) || cmd_nfields >= MCB_MAX_FIELDS) return 0;
        *eq = 0;
        cmd_keys[cmd_nfields] = p;
        cmd_vals[cmd_nfields] = eq + 1;
        cmd_nfields++;
        p = sp ? sp : eq + 1 + strlen(eq + 1);
    }
    for (int i = 0; i < cmd_nfields; i++) unescape(cmd_vals[i]);
    return 1;
}

int mcb_cmd_feed(int byte) {
    if (byte < 0) return 0;
    if (byte == '\n') {
        int ok = !cmd_discard && parse_cmd_line();
        cmd_len = 0;
        cmd_discard = 0;
        return ok;
    }
    if (cmd_discard) return 0;
    if (cmd_len >= sizeof(cmd_line) - 1) {
        cmd_discard = 1;
        cmd_len = 0;
        return 0;
    }
    cmd_line[cmd_len++] = (char)byte;
    return 0;
}

const char *mcb_cmd_get(const char *key) {
    for (int i = 0; i < cmd_nfields; i++) {
        if (strcmp(cmd_keys[i], key) == 0) return cmd_vals[i];
    }
    return NULL;
}

int mcb_cmd_get_u32(const char *key, uint32_t *out) {
    const char *v = mcb_cmd_get(key);
    if (!v || !*v) return -1;
    uint64_t acc = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9') return -1;
        acc = acc * 10u + (uint64_t)(*v - '0');
        if (acc > 0xFFFFFFFFu) return -1;
    }
    *out = (uint32_t)acc;
    return 0;
}

int mcb_cmd_get_hex(const char *key, uint8_t *buf, size_t cap) {
    const char *v = mcb_cmd_get(key);
    if (!v) return -1;
    size_t n = strlen(v);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        buf[i] = (uint8_t)(hi * 16 + lo);
    }
    return (int)(n / 2);
}
