/* log.h: the exporter's one-line log messages on stderr (the journal under
 * systemd adds the time). */
#ifndef QFX_LOG_H
#define QFX_LOG_H

enum { QFX_LOG_ERROR, QFX_LOG_WARNING, QFX_LOG_NOTICE, QFX_LOG_INFO };

/* qfx_log writes "qiflow-exporter: <level>: <message>" as one line. */
void qfx_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define QFX_ERROR(...) qfx_log(QFX_LOG_ERROR, __VA_ARGS__)
#define QFX_WARNING(...) qfx_log(QFX_LOG_WARNING, __VA_ARGS__)
#define QFX_NOTICE(...) qfx_log(QFX_LOG_NOTICE, __VA_ARGS__)
#define QFX_INFO(...) qfx_log(QFX_LOG_INFO, __VA_ARGS__)

#endif
