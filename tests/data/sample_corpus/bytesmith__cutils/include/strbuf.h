/*
 * strbuf.h - growable, always NUL-terminated byte strings.
 *
 * A strbuf owns its memory. Initialise with STRBUF_INIT or strbuf_init(),
 * release with strbuf_release(). All functions keep buf[len] == '\0'.
 */
#ifndef CUTILS_STRBUF_H
#define CUTILS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    size_t alloc;
    size_t len;
    char *buf;
};

extern char strbuf_empty[];
#define STRBUF_INIT { 0, 0, strbuf_empty }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);

void strbuf_setlen(struct strbuf *sb, size_t len);
void strbuf_trim(struct strbuf *sb);

static inline void strbuf_reset(struct strbuf *sb)
{
    strbuf_setlen(sb, 0);
}

#endif /* CUTILS_STRBUF_H */
