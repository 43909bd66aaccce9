import pino from 'pino';

/**
 * One JSON logger for the API and worker. Header and credential fields are redacted as a second line of
 * defence: no code path is meant to log them in the first place.
 */
export function createLogger(level: string) {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.auth',
        '*.token',
        '*.password',
        'auth',
        'token',
        'password',
      ],
      censor: '[redacted]',
    },
  });
}

export type Logger = ReturnType<typeof createLogger>;
