/*
 * The crawler's compiled typers: Glue's type rules over a CSV or JSON Lines sample, in one
 * pass over its bytes.
 *
 * Each function gives exactly what the Python classifiers give for the same sample (a
 * property test compares the two), or ASK_PYTHON when the sample holds anything it does not
 * handle the same way (rare input: Unicode blanks, lone carriage returns, nested JSON, very
 * large numbers, escapes in JSON keys...). The caller then types the sample in Python.
 *
 * Type codes: 0 null (no value seen), 1 boolean, 2 bigint, 3 double, 4 string.
 * No allocation, no global state: the functions are safe in any thread or forked process.
 */
#include <stddef.h>
#include <string.h>

#define ASK_PYTHON (-1)
#define T_NULL 0
#define T_BOOLEAN 1
#define T_BIGINT 2
#define T_DOUBLE 3
#define T_STRING 4

#define MAX_COLUMNS 1024
#define FIELD_LIMIT 131072 /* Python's csv.field_size_limit(): a longer field is an error */

typedef unsigned char byte;

/* What Python's value patterns allow around a value: space, tab, CR, FF, VT. */
static int is_pad(byte c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
static int is_digit(byte c) { return c >= '0' && c <= '9'; }

/* Whether the UTF-8 character starting at p (a byte >= 0x80) is one that Python's str.strip()
 * treats as blank: U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000. */
static int unicode_blank(const byte *p, const byte *end) {
    if (p[0] == 0xC2 && p + 1 < end) return p[1] == 0x85 || p[1] == 0xA0;
    if (p + 2 >= end) return 0;
    if (p[0] == 0xE1) return p[1] == 0x9A && p[2] == 0x80;
    if (p[0] == 0xE2 && p[1] == 0x80)
        return p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF;
    if (p[0] == 0xE2 && p[1] == 0x81) return p[2] == 0x9F;
    if (p[0] == 0xE3) return p[1] == 0x80 && p[2] == 0x80;
    return 0;
}

/* Whether digits d[0..n) (no sign, no leading zeros) fit a signed 64-bit integer. */
static int fits_int64(const byte *d, size_t n, int negative) {
    static const char max_pos[] = "9223372036854775807";
    static const char max_neg[] = "9223372036854775808";
    if (n < 19) return 1;
    if (n > 19) return 0;
    return memcmp(d, negative ? max_neg : max_pos, 19) <= 0;
}

/* Kinds of value seen in a column, as bits. */
#define K_BOOL 1
#define K_INT 2
#define K_BIGNUM 4 /* a whole number past 64 bits: a double to Glue */
#define K_FLOAT 8
#define K_STRING 16
#define K_NEWLINE 32 /* a value holding a line break: the column is text */
#define K_SOLID 64   /* a value that is not blank */

/* The kind of one CSV value, by Python's patterns: [+-]?[0-9]+ a whole number;
 * [+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)? a double; true/false in any case
 * a boolean; blanks alone nothing. */
static int csv_value_kind(const byte *s, const byte *e) {
    while (s < e && is_pad(*s)) s++;
    while (e > s && is_pad(e[-1])) e--;
    if (s == e) return 0;
    const byte *p = s;
    int negative = 0;
    if (*p == '+' || *p == '-') negative = *p++ == '-';
    const byte *digits = p;
    while (p < e && is_digit(*p)) p++;
    size_t whole = (size_t)(p - digits);
    if (p == e && whole) {
        while (whole > 1 && *digits == '0') digits++, whole--;
        return K_SOLID | (fits_int64(digits, whole, negative) ? K_INT : K_BIGNUM);
    }
    size_t fraction = 0;
    if (p < e && *p == '.') {
        const byte *f = ++p;
        while (p < e && is_digit(*p)) p++;
        fraction = (size_t)(p - f);
    }
    if (whole || fraction) {
        if (p < e && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < e && (*p == '+' || *p == '-')) p++;
            const byte *x = p;
            while (p < e && is_digit(*p)) p++;
            if (p == x) p = NULL; /* an exponent without digits: not a number */
        }
        if (p == e) return K_SOLID | K_FLOAT;
    }
    size_t n = (size_t)(e - s);
    if (n == 4 && (s[0] | 32) == 't' && (s[1] | 32) == 'r' && (s[2] | 32) == 'u' &&
        (s[3] | 32) == 'e')
        return K_SOLID | K_BOOL;
    if (n == 5 && (s[0] | 32) == 'f' && (s[1] | 32) == 'a' && (s[2] | 32) == 'l' &&
        (s[3] | 32) == 's' && (s[4] | 32) == 'e')
        return K_SOLID | K_BOOL;
    return K_SOLID | K_STRING;
}

static int column_type(int kinds) {
    if (!(kinds & K_SOLID)) return T_NULL;
    if (kinds & (K_STRING | K_NEWLINE)) return T_STRING;
    if (kinds & K_BOOL) return (kinds & (K_INT | K_BIGNUM | K_FLOAT)) ? T_STRING : T_BOOLEAN;
    if (kinds & (K_FLOAT | K_BIGNUM)) return T_DOUBLE;
    return T_BIGINT;
}

typedef struct {
    const byte *p, *end;
    byte delim, quote;
} csv_reader;

typedef struct {
    const byte *start, *end; /* the raw field, quotes included */
    int quoted;
    int newline; /* holds a line break (quoted) */
    int solid;   /* holds a character that is not blank, line breaks included among blanks */
} csv_field;

/* The next record of Python's csv reader (strict=False, doublequote, no escape character),
 * empty lines skipped. Returns its number of fields, 0 at the end, ASK_PYTHON on what Python
 * would read differently or reject; fields past max_fields are counted, not kept. */
static int csv_next(csv_reader *r, csv_field *fields, int max_fields, const byte **record_start) {
    const byte *p = r->p, *end = r->end;
    for (;;) { /* skip empty lines */
        if (p >= end) {
            r->p = p;
            return 0;
        }
        if (*p == '\n') p++;
        else if (*p == '\r' && p + 1 < end && p[1] == '\n') p += 2;
        else if (*p == '\r' && p + 1 == end) p++;
        else if (*p == '\r') return ASK_PYTHON;
        else break;
    }
    *record_start = p;
    int count = 0;
    for (;;) {
        csv_field f = {p, p, 0, 0, 0};
        if (p < end && *p == r->quote) {
            f.quoted = 1;
            p++;
            for (;;) {
                if (p >= end) return ASK_PYTHON; /* the data ends inside quotes */
                byte c = *p;
                if (c == r->quote) {
                    if (p + 1 < end && p[1] == r->quote) {
                        f.solid = 1;
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (c == '\n') f.newline = 1;
                else if (c == 0) return ASK_PYTHON;
                else if (c >= 0x80 && unicode_blank(p, end)) return ASK_PYTHON;
                else if (c >= 0x1C && c <= 0x1F) return ASK_PYTHON;
                else if (!is_pad(c)) f.solid = 1;
                p++;
            }
            f.end = p;
            if (p < end && *p != r->delim && *p != '\n' && *p != '\r')
                return ASK_PYTHON; /* text after a closing quote */
        } else {
            while (p < end) {
                byte c = *p;
                if (c == r->delim || c == '\n' || c == '\r') break;
                if (c == 0) return ASK_PYTHON;
                if (c >= 0x80) {
                    if (unicode_blank(p, end)) return ASK_PYTHON;
                    f.solid = 1;
                } else if (c >= 0x1C && c <= 0x1F) {
                    return ASK_PYTHON;
                } else if (!is_pad(c)) {
                    f.solid = 1;
                }
                p++;
            }
            f.end = p;
        }
        if (f.end - f.start > FIELD_LIMIT) return ASK_PYTHON;
        if (count < max_fields) fields[count] = f;
        count++;
        if (p >= end) break;
        if (*p == r->delim) {
            p++;
            if (p >= end) { /* a delimiter at the very end: one more, empty field */
                if (count < max_fields) fields[count] = (csv_field){p, p, 0, 0, 0};
                count++;
                break;
            }
            continue;
        }
        if (*p == '\n') {
            p++;
            break;
        }
        /* '\r' */
        if (p + 1 < end && p[1] == '\n') p += 2;
        else if (p + 1 == end) p++;
        else return ASK_PYTHON; /* a lone carriage return inside a line */
        break;
    }
    r->p = p;
    return count;
}

static int usable(byte delim, byte quote) {
    const char *bad = "+-.0123456789 \t\r\n\f\v";
    if (delim == quote || delim == '\n' || delim == '\r' || delim == 0 || quote == 0) return 0;
    if (strchr(bad, quote) || ((quote | 32) >= 'a' && (quote | 32) <= 'z')) return 0;
    if (delim != '\t' && strchr(bad, delim)) return 0;
    if ((delim | 32) >= 'a' && (delim | 32) <= 'z') return 0;
    return delim < 0x80 && quote < 0x80;
}

/*
 * Widths of the first max_records records (Python's csv reader, empty lines skipped).
 * Returns how many records there are (up to max_records) or ASK_PYTHON.
 */
int sg_csv_widths(const byte *data, size_t size, byte delim, byte quote, int max_records,
                  int *widths) {
    if (size > 0x7FFFFFFF) return ASK_PYTHON; /* offsets are ints */
    if (!usable(delim, quote)) return ASK_PYTHON;
    csv_reader r = {data, data + size, delim, quote};
    csv_field none[1];
    const byte *record;
    int n = 0;
    while (n < max_records) {
        int width = csv_next(&r, none, 0, &record);
        if (width < 0) return ASK_PYTHON;
        if (width == 0) break;
        widths[n++] = width;
    }
    return n;
}

/*
 * Column types of the first max_records records of `width` fields (after the first such
 * record, which may be a header), by Glue's rules over each whole column; other records are
 * ragged. out[0..width) gets the types; info[0] the ragged records, info[1] and info[2] the
 * byte range of the first record of `width` fields, info[3] the typed records. Returns 0, or
 * ASK_PYTHON.
 */
int sg_csv_types(const byte *data, size_t size, byte delim, byte quote, int width,
                 int max_records, int *out, int *info) {
    if (size > 0x7FFFFFFF) return ASK_PYTHON; /* offsets are ints */
    if (!usable(delim, quote) || width < 1 || width > MAX_COLUMNS) return ASK_PYTHON;
    csv_field fields[MAX_COLUMNS];
    int kinds[MAX_COLUMNS];
    memset(kinds, 0, sizeof(int) * (size_t)width);
    csv_reader r = {data, data + size, delim, quote};
    const byte *record;
    int seen = 0, ragged = 0, typed = 0, first = 1;
    info[1] = info[2] = -1;
    while (seen < max_records) {
        int n = csv_next(&r, fields, MAX_COLUMNS, &record);
        if (n < 0) return ASK_PYTHON;
        if (n == 0) break;
        seen++;
        if (n != width) {
            ragged++;
            continue;
        }
        if (first) { /* the header or first data row: typed by the caller */
            first = 0;
            info[1] = (int)(record - data);
            info[2] = (int)(r.p - data);
            continue;
        }
        typed++;
        for (int i = 0; i < width; i++) {
            csv_field *f = &fields[i];
            if (f->newline) {
                kinds[i] |= K_NEWLINE | (f->solid ? K_SOLID : 0);
            } else if (!f->solid) {
                continue;
            } else if (f->quoted) {
                kinds[i] |= csv_value_kind(f->start + 1, f->end - 1);
            } else {
                kinds[i] |= csv_value_kind(f->start, f->end);
            }
        }
    }
    for (int i = 0; i < width; i++) out[i] = column_type(kinds[i]);
    info[0] = ragged;
    info[3] = typed;
    return 0;
}

/* ---------------------------------------------------------------- JSON Lines */

#define MAX_KEYS 512

static const byte *json_ws(const byte *p, const byte *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

static int hex_value(byte c) {
    if (is_digit(c)) return c - '0';
    if ((c | 32) >= 'a' && (c | 32) <= 'f') return (c | 32) - 'a' + 10;
    return -1;
}

/* The code unit of a \uXXXX escape at p, or -1. */
static int unicode_escape(const byte *p, const byte *end) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
    int unit = 0;
    for (int i = 2; i < 6; i++) {
        int v = hex_value(p[i]);
        if (v < 0) return -1;
        unit = unit * 16 + v;
    }
    return unit;
}

/* A JSON string from p (just after the opening quote); returns the position after the
 * closing quote, or NULL for what orjson would reject (a lone surrogate among them) or, when
 * escapes are not allowed, for any escape. */
static const byte *json_string(const byte *p, const byte *end, int allow_escapes) {
    while (p < end) {
        byte c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (!allow_escapes || p + 1 >= end) return NULL;
            byte e = p[1];
            if (e == 'u') {
                int unit = unicode_escape(p, end);
                if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return NULL;
                if (unit >= 0xD800 && unit <= 0xDBFF) { /* a pair, or orjson rejects it */
                    int low = unicode_escape(p + 6, end);
                    if (low < 0xDC00 || low > 0xDFFF) return NULL;
                    p += 6;
                }
                p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0) return NULL;
            p += 2;
            continue;
        }
        p++;
    }
    return NULL;
}

/* A JSON number (RFC 8259) from p; sets *kind to K_INT or K_FLOAT. NULL when it is not one,
 * or when it is one orjson and Python would read differently from a plain 64-bit value. */
static const byte *json_number(const byte *p, const byte *end, int *kind) {
    const byte *s = p;
    int negative = 0;
    if (p < end && *p == '-') negative = 1, p++;
    if (p >= end || !is_digit(*p)) return NULL;
    const byte *digits = p;
    if (*p == '0') p++;
    else
        while (p < end && is_digit(*p)) p++;
    size_t whole = (size_t)(p - digits);
    int fractional = 0;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p)) p++;
        fractional = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const byte *x = p;
        while (p < end && is_digit(*p)) p++;
        if (p == x || p - x > 2) return NULL; /* no digits, or an exponent that may overflow */
        fractional = 1;
    }
    if (fractional) {
        if (whole > 200) return NULL; /* with at most 99 as exponent: never infinite */
        *kind = K_FLOAT;
    } else {
        if (!fits_int64(digits, whole, negative)) return NULL;
        *kind = K_INT;
    }
    (void)s;
    return p;
}

/*
 * Keys and column types of JSON Lines: the first max_records lines, each one JSON object of
 * scalar values, none empty (what the JSON classifier's one-parse way takes); `complete` says
 * whether the data is the whole file (else its last line may be cut and is left out).
 * key_at[2k], key_at[2k+1]: byte offset and length of key k, in the order first seen;
 * types[k] its type. info[0] the keys, info[1] the records, info[2] the lines of the whole
 * data that are not blank (the data must not start or end with blanks). Returns 0, or
 * ASK_PYTHON.
 */
int sg_json_lines_types(const byte *data, size_t size, int complete, int max_records,
                        int max_keys, int *key_at, int *types, int *info) {
    if (size > 0x7FFFFFFF) return ASK_PYTHON; /* offsets are ints */
    const byte *p = data, *end = data + size;
    int kinds[MAX_KEYS];
    int stamp[MAX_KEYS];
    int keys = 0, records = 0, hint;
    if (max_keys > MAX_KEYS) max_keys = MAX_KEYS;
    if (size == 0) return ASK_PYTHON;
    while (records < max_records && p < end) {
        const byte *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            if (!complete) break; /* a line cut by the end of the sample */
            nl = end;
        }
        const byte *q = json_ws(p, nl);
        if (q == nl) return ASK_PYTHON; /* an empty or blank line */
        if (*q != '{') return ASK_PYTHON;
        q = json_ws(q + 1, nl);
        hint = 0;
        if (q < nl && *q == '}') {
            q++;
        } else {
            for (;;) {
                if (q >= nl || *q != '"') return ASK_PYTHON;
                const byte *k = q + 1;
                const byte *ke = json_string(k, nl, 0);
                if (ke == NULL) return ASK_PYTHON;
                size_t klen = (size_t)(ke - 1 - k);
                int index = -1;
                if (hint < keys && key_at[2 * hint + 1] == (int)klen &&
                    memcmp(data + key_at[2 * hint], k, klen) == 0) {
                    index = hint;
                } else {
                    for (int j = 0; j < keys; j++)
                        if (key_at[2 * j + 1] == (int)klen &&
                            memcmp(data + key_at[2 * j], k, klen) == 0) {
                            index = j;
                            break;
                        }
                }
                if (index < 0) {
                    if (keys >= max_keys) return ASK_PYTHON;
                    index = keys++;
                    key_at[2 * index] = (int)(k - data);
                    key_at[2 * index + 1] = (int)klen;
                    kinds[index] = 0;
                    stamp[index] = -1;
                }
                if (stamp[index] == records) return ASK_PYTHON; /* a key twice in a record */
                stamp[index] = records;
                hint = index + 1;
                q = json_ws(ke, nl);
                if (q >= nl || *q != ':') return ASK_PYTHON;
                q = json_ws(q + 1, nl);
                if (q >= nl) return ASK_PYTHON;
                byte c = *q;
                if (c == '"') {
                    q = json_string(q + 1, nl, 1);
                    if (q == NULL) return ASK_PYTHON;
                    kinds[index] |= K_SOLID | K_STRING;
                } else if (c == 't' && nl - q >= 4 && memcmp(q, "true", 4) == 0) {
                    q += 4;
                    kinds[index] |= K_SOLID | K_BOOL;
                } else if (c == 'f' && nl - q >= 5 && memcmp(q, "false", 5) == 0) {
                    q += 5;
                    kinds[index] |= K_SOLID | K_BOOL;
                } else if (c == 'n' && nl - q >= 4 && memcmp(q, "null", 4) == 0) {
                    q += 4;
                } else if (c == '-' || is_digit(c)) {
                    int kind = 0;
                    q = json_number(q, nl, &kind);
                    if (q == NULL) return ASK_PYTHON;
                    kinds[index] |= K_SOLID | kind;
                } else {
                    return ASK_PYTHON; /* a nested object or array, or not JSON */
                }
                q = json_ws(q, nl);
                if (q < nl && *q == ',') {
                    q = json_ws(q + 1, nl);
                    continue;
                }
                if (q < nl && *q == '}') {
                    q++;
                    break;
                }
                return ASK_PYTHON;
            }
        }
        if (json_ws(q, nl) != nl) return ASK_PYTHON; /* more than one value on the line */
        records++;
        p = nl < end ? nl + 1 : end;
    }
    if (records < 2) return ASK_PYTHON;
    for (int k = 0; k < keys; k++) types[k] = column_type(kinds[k]);
    /* Lines of the data that are not blank: up to its last line break when its last line may
     * be cut, blanks at its end left out (as Python's str.rstrip() leaves them out). */
    const byte *stop = end;
    if (!complete)
        while (stop > data && stop[-1] != '\n') stop--;
    while (stop > data && (stop[-1] == ' ' || (stop[-1] >= '\t' && stop[-1] <= '\r') ||
                           (stop[-1] >= 0x1C && stop[-1] <= 0x1F)))
        stop--;
    if (stop > data && stop[-1] >= 0x80) return ASK_PYTHON; /* may end with a Unicode blank */
    int lines = 0;
    for (const byte *s = data; s < stop;) {
        const byte *nl = memchr(s, '\n', (size_t)(stop - s));
        const byte *e = nl ? nl : stop;
        const byte *b = s;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r')) b++;
        if (b < e || s == data || nl == NULL) lines++;
        s = nl ? nl + 1 : stop;
    }
    info[0] = keys;
    info[1] = records;
    info[2] = lines;
    return 0;
}
