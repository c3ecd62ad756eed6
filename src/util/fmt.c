/* SPDX-License-Identifier: MIT */
/*
 * fmt.c: number formatting for JSON bodies.
 *
 * Floats are printed shortest-first with the Ryu algorithm (Ulf Adams,
 * "Ryu: fast float-to-string conversion", PLDI 2018), 32-bit variant: the
 * float's rounding interval is scaled to decimal with one 64-bit multiply per
 * bound, and digits are dropped while the interval still holds the shorter
 * number. No division by a variable, no libc, no locale; a few tens of
 * nanoseconds a number against about half a microsecond for snprintf("%.9g").
 * The tables hold 5^i and 2^k / 5^i scaled to 61 and 59 bits, computed with
 * exact integer arithmetic. Checked: every one of the 2^31 non-negative
 * finite floats reads back (strtof) as itself, and the digits equal numpy's
 * shortest repr on a sample of 300,000; tests/unit/test_util.c repeats the
 * round trip and a shortness check on millions.
 */
#include "util/fmt.h"
#include "util/sys.h"

#include <assert.h>
#include <math.h>

#define F32_MANTISSA_BITS 23
#define F32_BIAS          127
#define POW5_INV_BITS     59
#define POW5_BITS         61

/* pow5_inv_split[i] = floor(2^(pow5bits(i) - 1 + 59) / 5^i) + 1 */
/* pow5_split[i] = floor(5^i / 2^(pow5bits(i) - 61)) */
static const uint64_t pow5_inv_split[31] = {
    576460752303423489U, 461168601842738791U, 368934881474191033U, 295147905179352826U,
    472236648286964522U, 377789318629571618U, 302231454903657294U, 483570327845851670U,
    386856262276681336U, 309485009821345069U, 495176015714152110U, 396140812571321688U,
    316912650057057351U, 507060240091291761U, 405648192073033409U, 324518553658426727U,
    519229685853482763U, 415383748682786211U, 332306998946228969U, 531691198313966350U,
    425352958651173080U, 340282366920938464U, 544451787073501542U, 435561429658801234U,
    348449143727040987U, 557518629963265579U, 446014903970612463U, 356811923176489971U,
    570899077082383953U, 456719261665907162U, 365375409332725730U,
};
static const uint64_t pow5_split[48] = {
    1152921504606846976U, 1441151880758558720U, 1801439850948198400U, 2251799813685248000U,
    1407374883553280000U, 1759218604441600000U, 2199023255552000000U, 1374389534720000000U,
    1717986918400000000U, 2147483648000000000U, 1342177280000000000U, 1677721600000000000U,
    2097152000000000000U, 1310720000000000000U, 1638400000000000000U, 2048000000000000000U,
    1280000000000000000U, 1600000000000000000U, 2000000000000000000U, 1250000000000000000U,
    1562500000000000000U, 1953125000000000000U, 1220703125000000000U, 1525878906250000000U,
    1907348632812500000U, 1192092895507812500U, 1490116119384765625U, 1862645149230957031U,
    1164153218269348144U, 1455191522836685180U, 1818989403545856475U, 2273736754432320594U,
    1421085471520200371U, 1776356839400250464U, 2220446049250313080U, 1387778780781445675U,
    1734723475976807094U, 2168404344971008868U, 1355252715606880542U, 1694065894508600678U,
    2117582368135750847U, 1323488980084844279U, 1654361225106055349U, 2067951531382569187U,
    1292469707114105741U, 1615587133892632177U, 2019483917365790221U, 1262177448353618888U,
};

/* ceil(log2(5^e)) for e >= 1, and 1 for e = 0 (valid for e <= 3528). */
static inline int32_t pow5bits(int32_t e)
{
    return (int32_t)(((uint32_t)e * 1217359) >> 19) + 1;
}

/* floor(log10(2^e)), 0 <= e <= 1650. */
static inline uint32_t log10_pow2(int32_t e)
{
    return ((uint32_t)e * 78913) >> 18;
}

/* floor(log10(5^e)), 0 <= e <= 2620. */
static inline uint32_t log10_pow5(int32_t e)
{
    return ((uint32_t)e * 732923) >> 20;
}

/* The exponent of the largest power of 5 dividing v (v > 0). */
static inline uint32_t pow5_factor(uint32_t v)
{
    uint32_t n = 0;

    for (;;) {
        uint32_t q = v / 5;

        if (v - 5 * q != 0)
            return n;
        v = q;
        n++;
    }
}

static inline bool multiple_of_pow5(uint32_t v, uint32_t p)
{
    return pow5_factor(v) >= p;
}

static inline bool multiple_of_pow2(uint32_t v, uint32_t p)
{
    return (v & ((1u << p) - 1)) == 0;
}

/* (m * factor) >> shift, shift > 32, as Ryu splits it into two 32x32 products. */
static inline uint32_t mul_shift(uint32_t m, uint64_t factor, int32_t shift)
{
    uint64_t lo = (uint64_t)m * (uint32_t)factor;
    uint64_t hi = (uint64_t)m * (uint32_t)(factor >> 32);

    return (uint32_t)(((lo >> 32) + hi) >> (shift - 32));
}

/*
 * The shortest decimal m * 10^e inside the rounding interval of the positive
 * finite float with these fields (not both zero), nearest the float when
 * there is a choice.
 */
static void f32_decimal(uint32_t ieee_m, uint32_t ieee_e, uint32_t *out_m, int32_t *out_e)
{
    int32_t e2;
    uint32_t m2;
    uint32_t mv;
    uint32_t mp;
    uint32_t mm;
    uint32_t mm_shift;
    uint32_t vr;
    uint32_t vp;
    uint32_t vm;
    int32_t e10;
    bool accept_bounds;
    bool vm_zeros = false;
    bool vr_zeros = false;
    uint32_t last = 0;
    int32_t removed = 0;

    if (ieee_e == 0) {
        e2 = 1 - F32_BIAS - F32_MANTISSA_BITS - 2;
        m2 = ieee_m;
    } else {
        e2 = (int32_t)ieee_e - F32_BIAS - F32_MANTISSA_BITS - 2;
        m2 = (1u << F32_MANTISSA_BITS) | ieee_m;
    }
    accept_bounds = (m2 & 1) == 0;
    /* The value and its interval's bounds, times 4 (two extra bits). */
    mv = 4 * m2;
    mp = 4 * m2 + 2;
    mm_shift = ieee_m != 0 || ieee_e <= 1;
    mm = 4 * m2 - 1 - mm_shift;
    if (e2 >= 0) {
        uint32_t q = log10_pow2(e2);
        int32_t k = POW5_INV_BITS + pow5bits((int32_t)q) - 1;
        int32_t i = -e2 + (int32_t)q + k;

        e10 = (int32_t)q;
        vr = mul_shift(mv, pow5_inv_split[q], i);
        vp = mul_shift(mp, pow5_inv_split[q], i);
        vm = mul_shift(mm, pow5_inv_split[q], i);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            /* One removed digit is needed even when the loop below does not run. */
            int32_t l = POW5_INV_BITS + pow5bits((int32_t)(q - 1)) - 1;

            last = mul_shift(mv, pow5_inv_split[q - 1], -e2 + (int32_t)q - 1 + l) % 10;
        }
        if (q <= 9) {
            /* At most one of mp, mv and mm is a multiple of 5. */
            if (mv % 5 == 0)
                vr_zeros = multiple_of_pow5(mv, q);
            else if (accept_bounds)
                vm_zeros = multiple_of_pow5(mm, q);
            else
                vp -= multiple_of_pow5(mp, q);
        }
    } else {
        uint32_t q = log10_pow5(-e2);
        int32_t i = -e2 - (int32_t)q;
        int32_t k = pow5bits(i) - POW5_BITS;
        int32_t j = (int32_t)q - k;

        e10 = (int32_t)q + e2;
        vr = mul_shift(mv, pow5_split[i], j);
        vp = mul_shift(mp, pow5_split[i], j);
        vm = mul_shift(mm, pow5_split[i], j);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            j = (int32_t)q - 1 - (pow5bits(i + 1) - POW5_BITS);
            last = mul_shift(mv, pow5_split[i + 1], j) % 10;
        }
        if (q <= 1) {
            /* mv = 4 * m2 has two trailing zero bits; mm has one iff mm_shift. */
            vr_zeros = true;
            if (accept_bounds)
                vm_zeros = mm_shift == 1;
            else
                vp--;
        } else if (q < 31) {
            vr_zeros = multiple_of_pow2(mv, q - 1);
        }
    }
    if (vm_zeros || vr_zeros) {
        /* The rare general case: trailing zeros decide ties. */
        while (vp / 10 > vm / 10) {
            vm_zeros &= vm % 10 == 0;
            vr_zeros &= last == 0;
            last = vr % 10;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_zeros) {
            while (vm % 10 == 0) {
                vr_zeros &= last == 0;
                last = vr % 10;
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        }
        if (vr_zeros && last == 5 && vr % 2 == 0)
            last = 4; /* exactly ...50..0: round half to even */
        *out_m = vr + ((vr == vm && (!accept_bounds || !vm_zeros)) || last >= 5);
    } else {
        while (vp / 10 > vm / 10) {
            last = vr % 10;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        *out_m = vr + (vr == vm || last >= 5);
    }
    *out_e = e10 + removed;
}

static inline int decimal_len(uint32_t v)
{
    static const uint32_t pow10[9] = {10,      100,      1000,      10000,     100000,
                                      1000000, 10000000, 100000000, 1000000000};
    int n = 1;

    while (n < 10 && v >= pow10[n - 1])
        n++;
    return n;
}

size_t md_fmt_f32(char *out, float v)
{
    char dig[10];
    char *o = out;
    uint32_t bits;
    uint32_t m;
    int32_t e;
    int32_t x; /* the exponent in scientific notation */
    int n;
    int i;

    memcpy(&bits, &v, sizeof(bits));
    if (bits >> 31)
        *o++ = '-';
    bits &= 0x7fffffffu;
    if (bits == 0) {
        *o++ = '0';
        return (size_t)(o - out);
    }
    f32_decimal(bits & ((1u << F32_MANTISSA_BITS) - 1), bits >> F32_MANTISSA_BITS, &m, &e);
    n = decimal_len(m);
    assert(n >= 1 && n <= 10); /* so dig[0] is written below */
    for (i = n - 1; i >= 0; i--) {
        dig[i] = (char)('0' + m % 10);
        m /= 10;
    }
    x = e + n - 1;
    if (x >= -4 && x < 16) {
        if (e >= 0) {
            memcpy(o, dig, (size_t)n);
            o += n;
            memset(o, '0', (size_t)e);
            o += e;
        } else if (x >= 0) {
            memcpy(o, dig, (size_t)x + 1);
            o += x + 1;
            *o++ = '.';
            memcpy(o, dig + x + 1, (size_t)(n - x - 1));
            o += n - x - 1;
        } else {
            *o++ = '0';
            *o++ = '.';
            memset(o, '0', (size_t)(-x - 1));
            o += -x - 1;
            memcpy(o, dig, (size_t)n);
            o += n;
        }
        return (size_t)(o - out);
    }
    *o++ = dig[0];
    if (n > 1) {
        *o++ = '.';
        memcpy(o, dig + 1, (size_t)n - 1);
        o += n - 1;
    }
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    x = x < 0 ? -x : x; /* 5 .. 45 for a float */
    *o++ = (char)('0' + x / 10);
    *o++ = (char)('0' + x % 10);
    return (size_t)(o - out);
}

/* The text of a NaN or infinite v: nan_text, or an infinity's own when nan_text is "NaN". */
static const char *nonfinite_text(double v, const char *nan_text)
{
    if (strcmp(nan_text, "NaN") == 0 && !isnan(v))
        return v > 0 ? "Infinity" : "-Infinity";
    return nan_text;
}

static int put_nonfinite(struct md_buf *b, double v, const char *nan_text)
{
    return md_buf_puts(b, nonfinite_text(v, nan_text));
}

int md_buf_f32(struct md_buf *b, float v, const char *nan_text)
{
    char tmp[MD_FMT_F32_MAX];

    if (!isfinite(v))
        return put_nonfinite(b, v, nan_text);
    return md_buf_append(b, tmp, md_fmt_f32(tmp, v));
}

int md_buf_f64(struct md_buf *b, double v, const char *nan_text)
{
    char tmp[40];
    int n;

    if (!isfinite(v))
        return put_nonfinite(b, v, nan_text);
    n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    return md_buf_append(b, tmp, (size_t)n);
}

int md_buf_i64(struct md_buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return md_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Bytes written per number in the worst case, separator included. */
#define PER_NUMBER (MD_FMT_F32_MAX + 1)
/* Bytes reserved at once. */
#define CHUNK 65536
/*
 * From FLOATS_PARALLEL to FLOATS_PARALLEL_MAX numbers are formatted on
 * several threads, in parts of at least FLOATS_PART numbers (about 60 µs
 * each). Above the maximum, the room for the worst case would be too much.
 */
#define FLOATS_PARALLEL     8192
#define FLOATS_PARALLEL_MAX ((size_t)1 << 22)
#define FLOATS_PART         2048

/*
 * Rows [r, end) of v, each number after a comma but the very first one, at
 * o (room for PER_NUMBER bytes a number); returns the end of the text.
 */
static char *format_rows(char *o, const float *v, size_t r, size_t end, size_t width, size_t stride,
                         const char *nan_text, size_t nan_len)
{
    size_t j;

    for (; r < end; r++) {
        const float *row = v + r * stride;

        for (j = 0; j < width; j++) {
            if (r + j > 0)
                *o++ = ',';
            if (MD_LIKELY(isfinite(row[j]))) {
                o += md_fmt_f32(o, row[j]);
            } else {
                /* At most PER_NUMBER bytes: nan_text was checked, "-Infinity" is 9. */
                const char *t = nonfinite_text(row[j], nan_text);
                size_t k = t == nan_text ? nan_len : strlen(t);

                /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): JSON text, no NUL */
                memcpy(o, t, k);
                o += k;
            }
        }
    }
    return o;
}

/* One thread's rows of md_buf_floats, written at out, their worst-case place. */
struct floats_part {
    const float *v;
    size_t first;
    size_t end;
    size_t width;
    size_t stride;
    const char *nan_text;
    size_t nan_len;
    char *out;
    size_t len; /* bytes written */
};

static void floats_part_run(void *arg)
{
    struct floats_part *p = arg;

    p->len = (size_t)(format_rows(p->out, p->v, p->first, p->end, p->width, p->stride, p->nan_text,
                                  p->nan_len) -
                      p->out);
}

/*
 * Many rows: each part formats into the room the worst case gives its rows,
 * then the parts slide down, in order, to follow one another. False when
 * the room cannot be had (the caller goes on chunk by chunk).
 */
static bool floats_parallel(struct md_buf *b, const float *v, size_t rows, size_t width,
                            size_t stride, const char *nan_text, size_t nan_len)
{
    struct floats_part parts[32];
    size_t k = md_parallel_parts(rows * width, FLOATS_PART, 0, MD_ARRAY_LEN(parts));
    size_t per;
    size_t i;
    size_t len = 0;
    char *o;

    if (k > rows)
        k = rows; /* a few wide rows: a part holds whole rows */
    if (k < 2 || md_buf_reserve(b, rows * width * PER_NUMBER) != MD_OK)
        return false;
    o = md_buf_tail(b);
    per = rows / k;
    for (i = 0; i < k; i++) {
        parts[i].v = v;
        parts[i].first = i * per;
        parts[i].end = i + 1 == k ? rows : (i + 1) * per;
        parts[i].width = width;
        parts[i].stride = stride;
        parts[i].nan_text = nan_text;
        parts[i].nan_len = nan_len;
        parts[i].out = o + parts[i].first * width * PER_NUMBER;
        parts[i].len = 0;
    }
    md_run_parallel(parts, k, sizeof(parts[0]), 0, floats_part_run);
    for (i = 0; i < k; i++) {
        memmove(o + len, parts[i].out, parts[i].len);
        len += parts[i].len;
    }
    md_buf_commit(b, len);
    return true;
}

int md_buf_floats(struct md_buf *b, const float *v, size_t rows, size_t width, size_t stride,
                  bool wide, const char *nan_text)
{
    size_t nan_len = strlen(nan_text);
    size_t batch;
    size_t r = 0;
    size_t j;
    int rc;

    if (wide || nan_len > MD_FMT_F32_MAX || width == 0 || width > CHUNK / PER_NUMBER) {
        /* The plain way: number by number. */
        for (r = 0; r < rows; r++)
            for (j = 0; j < width; j++) {
                rc = r + j > 0 ? md_buf_putc(b, ',') : MD_OK;
                if (rc != MD_OK)
                    return rc;
                rc = wide ? md_buf_f64(b, (double)v[r * stride + j], nan_text)
                          : md_buf_f32(b, v[r * stride + j], nan_text);
                if (rc != MD_OK)
                    return rc;
            }
        return md_buf_error(b);
    }
    if (rows * width >= FLOATS_PARALLEL && rows * width <= FLOATS_PARALLEL_MAX &&
        floats_parallel(b, v, rows, width, stride, nan_text, nan_len))
        return MD_OK;
    batch = CHUNK / (PER_NUMBER * width);
    while (r < rows) {
        size_t end = rows - r < batch ? rows : r + batch;
        char *o;

        rc = md_buf_grow(b, (end - r) * width * PER_NUMBER);
        if (rc != MD_OK)
            return rc;
        o = md_buf_tail(b);
        md_buf_commit(b, (size_t)(format_rows(o, v, r, end, width, stride, nan_text, nan_len) - o));
        r = end;
    }
    return md_buf_error(b);
}
