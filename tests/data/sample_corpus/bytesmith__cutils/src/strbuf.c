#include "strbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char strbuf_empty[1];

static void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size);
    if (!p) {
        fprintf(stderr, "cutils: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

void strbuf_init(struct strbuf *sb, size_t hint)
{
    sb->alloc = sb->len = 0;
    sb->buf = strbuf_empty;
    if (hint)
        strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
    if (sb->alloc)
        free(sb->buf);
    strbuf_init(sb, 0);
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
    char *res;
    strbuf_grow(sb, 0);
    res = sb->buf;
    if (len)
        *len = sb->len;
    strbuf_init(sb, 0);
    return res;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    int fresh = sb->alloc == 0;

    if (need < sb->len) {
        fprintf(stderr, "cutils: strbuf size overflow\n");
        abort();
    }
    if (need <= sb->alloc)
        return;
    sb->alloc = need < 16 ? 16 : need + need / 2;
    sb->buf = xrealloc(fresh ? NULL : sb->buf, sb->alloc);
    if (fresh)
        sb->buf[0] = '\0';
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    strbuf_setlen(sb, sb->len + len);
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, int c)
{
    strbuf_grow(sb, 1);
    sb->buf[sb->len++] = (char)c;
    sb->buf[sb->len] = '\0';
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list copy;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(sb->buf + sb->len, sb->alloc ? sb->alloc - sb->len : 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n >= (sb->alloc ? sb->alloc - sb->len : 0)) {
        strbuf_grow(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    }
    strbuf_setlen(sb, sb->len + (size_t)n);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
    if (sb->alloc == 0 && len == 0)
        return;
    sb->len = len;
    sb->buf[len] = '\0';
}

void strbuf_trim(struct strbuf *sb)
{
    size_t start = 0;
    while (sb->len && isspace((unsigned char)sb->buf[sb->len - 1]))
        sb->len--;
    while (start < sb->len && isspace((unsigned char)sb->buf[start]))
        start++;
    memmove(sb->buf, sb->buf + start, sb->len - start);
    strbuf_setlen(sb, sb->len - start);
}
